package store

// FetchWaiters returns how many Gets wait for the load of id in flight.
func FetchWaiters(s *ChunkStore, id ChunkID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.calls[id]; ok {
		return f.waiters
	}
	return 0
}
