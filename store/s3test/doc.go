// Package s3test gives tests a fresh bucket on a MinIO (or other S3) server
// named by the environment:
//
//	DFS_TEST_S3_ENDPOINT    host:port of the server (tests skip when unset)
//	DFS_TEST_S3_ACCESS_KEY  access key
//	DFS_TEST_S3_SECRET_KEY  secret key
//	DFS_REQUIRE_S3=1        fail instead of skipping when no server is set
//
// The server is reached over plain http with path-style requests. Each
// bucket is removed, with its objects, when the test ends.
package s3test
