// Package storetest is the conformance suite every store.Backend must pass:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Backend { return newBackend(t) })
//	}
//
// newBackend is called once per subtest and must return an empty backend;
// the suite closes it at the end of the subtest.
package storetest
