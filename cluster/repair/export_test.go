package repair

// SetBatch sets how many chunks k takes at a time from the namespace or
// the local backend, so that small tests cross page boundaries. Call it
// before the first pass.
func SetBatch(k *Keeper, n int) { k.batch = n }
