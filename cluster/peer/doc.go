// Package peer is the HTTP API through which dfs nodes read and write each
// other's chunks: a server (NewHandler) serving the node's own
// store.Backend, a Client, and the request signing both share (Sign,
// Verifier).
//
// # Signing
//
// Every request carries four headers:
//
//	X-Dfs-Timestamp       unix time of signing in nanoseconds, decimal
//	X-Dfs-Nonce           16 random bytes, lower-case hex
//	X-Dfs-Content-Sha256  SHA-256 of the body (of nothing for GET, HEAD,
//	                      DELETE), lower-case hex
//	X-Dfs-Signature       lower-case hex HMAC-SHA256 with the cluster key of
//	                      method "\n" request-URI "\n" timestamp "\n" nonce
//	                      "\n" content-sha256
//
// The request-URI is the path with its query exactly as sent on the wire
// (URL.RequestURI on the client, Request.RequestURI on the server), so a
// handler mounted under a path prefix verifies the path the client signed.
// Other headers (Range, Content-Length) are not covered: Range only selects
// bytes of an immutable chunk, and the body is covered by its hash.
//
// A Verifier refuses with 401 (ErrUnauthorized) a request that lacks a
// header or repeats one, is malformed, has a signature that does not match
// (a forged request, or one signed with another cluster key), has a
// timestamp more than Skew (default 30 s) from the local clock in either
// direction, or reuses a nonce. Nonces are remembered only while their
// timestamp is inside the window, at most 2*Skew; the cache drops them in
// whole generations (O(1) pruning) and is bounded (MaxNonces): when full it
// refuses with 503 rather than forget a nonce early. Only after all of that
// is the body read; it must hash to the signed X-Dfs-Content-Sha256, else
// 400 (ErrBodyHash). Responses are not signed: chunk bytes are verified by
// the client against their ID, and the API is meant for the cluster's own
// network (put TLS in front of it to cross untrusted ones).
//
// Every refusal is logged at Warn with the remote address, method, path and
// reason, rate-limited (a burst of 20 lines, then one a second; the count of
// lines dropped goes on the next). Keys, signatures and bodies are never
// logged.
//
// # Routes
//
//	GET    /v1/chunks/{id}            the chunk; a single Range (bytes=a-b,
//	                                  a-, -n) gives 206, an unsatisfiable
//	                                  one 416
//	HEAD   /v1/chunks/{id}            Content-Length is the chunk's size
//	PUT    /v1/chunks/{id}            store the body as the chunk: 204
//	DELETE /v1/chunks/{id}            204, also when the chunk is missing
//	GET    /v1/chunks?after=ID&limit=N
//	                                  inventory: {"chunks":[{"id","size"}],
//	                                  "more":bool}, chunks after ID in ID
//	                                  order, N at most 10000 (default 1000)
//
// {id} is the 64-character lower-case hex BLAKE3-256 ChunkID and is checked
// (store.ParseChunkID, canonical form) before anything touches the backend;
// chunks live under store.ChunkID.Key. A PUT body (at most MaxBody, default
// 64 MiB + 64 KiB, else 413) is read into memory and must hash both to its
// signed SHA-256 and to the chunk ID (store.Verify) before Put is called:
// otherwise 400 and nothing is stored. A PUT of a chunk already present
// overwrites it, so repair can replace a corrupt copy. Bodies of other
// methods are limited to 4 KiB.
//
// # Errors
//
// The server answers: 400 for an invalid ID, range, query or body; 401 for
// an authentication failure; 404 for a missing chunk (store.ErrNotFound) or
// unknown route; 405 for another method; 413 for a body too large; 416 for
// an unsatisfiable range; 503 when the backend is closed or unreachable or
// the replay cache is full; 507 for store.ErrNoSpace; 500 with the short
// message "backend error" for anything else (the full error is logged, not
// sent). No input makes it panic.
//
// The Client translates those back: 404 to store.ErrNotFound, 507 to
// store.ErrNoSpace, 401 to ErrUnauthorized, 400/405/413/416 to
// ErrBadRequest, 503 to ErrUnavailable; a peer that cannot be reached gives
// store.ErrUnreachable, and a chunk whose bytes do not hash to its ID gives
// store.ErrCorrupt. All errors are wrapped with the operation, chunk and
// peer; test them with errors.Is.
//
// # Concurrency
//
// The handler, the Verifier and the Client are safe for concurrent use. The
// handler starts no goroutines; the caller owns the http.Server (set its
// ReadHeaderTimeout and IdleTimeout) and the backend.
package peer
