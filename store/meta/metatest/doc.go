// Package metatest is the conformance suite of the metadata state machine
// (store/meta). Run it against every way of opening an FSM:
//
//	func TestSuite(t *testing.T) {
//		metatest.Run(t, func(t *testing.T) *meta.FSM { ... })
//	}
//
// open must return a fresh, empty FSM and close it in t.Cleanup. The
// restart test reopens the FSM from its Config (on-disk FSMs only).
package metatest
