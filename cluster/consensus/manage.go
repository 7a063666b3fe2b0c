package consensus

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dfsproject/dfs/cluster"
)

// manage bootstraps when there is no state yet, then, while this node
// leads, keeps the Raft configuration in step with gossip.
func (n *Node) manage(hadState bool) {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.ReconcileInterval)
	defer t.Stop()
	bootstrapped := hadState || n.cfg.BootstrapExpect == 0
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !bootstrapped {
			bootstrapped = n.tryBootstrap()
			continue
		}
		if n.raft.State() == raft.Leader {
			n.reconcile()
		}
	}
}

// raftMembers returns the gossip members that take part in Raft and are
// up (alive or suspect, not leaving), sorted by name.
func raftMembers(ms []cluster.Member) []cluster.Member {
	var out []cluster.Member
	for _, m := range ms {
		if m.Meta.RaftAddr != "" && m.Meta.State != cluster.StateLeaving &&
			(m.State == cluster.MemberAlive || m.State == cluster.MemberSuspect) {
			out = append(out, m)
		}
	}
	return out
}

// tryBootstrap forms the cluster once BootstrapExpect nodes are up: every
// one of the first BootstrapExpect by name bootstraps the same
// configuration, which raft accepts as one.
func (n *Node) tryBootstrap() bool {
	if n.Leader() != "" {
		return true // someone else's cluster found us
	}
	up := raftMembers(n.cfg.Members())
	if len(up) < n.cfg.BootstrapExpect {
		return false
	}
	up = up[:n.cfg.BootstrapExpect]
	if !slices.ContainsFunc(up, func(m cluster.Member) bool { return m.Name == n.cfg.Name }) {
		n.log.Info("not among the first nodes by name: waiting to be added by the leader")
		return true
	}
	// A node joining an existing cluster with the same flag must not form
	// a second one: ask every candidate whether it already has a Raft
	// configuration.
	for _, m := range up {
		if m.Name == n.cfg.Name {
			continue
		}
		var st Status
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := n.call(ctx, m.Name, http.MethodGet, pathStatus, nil, &st)
		cancel()
		if err != nil {
			n.log.Debug("bootstrap: cannot ask a candidate yet", "node", m.Name, "err", err)
			return false
		}
		if len(st.Voters) > 0 {
			n.log.Info("a Raft cluster exists already: waiting to be added by its leader", "asked", m.Name)
			return true
		}
	}
	var conf raft.Configuration
	for _, m := range up {
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Meta.RaftAddr)})
	}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil {
		n.log.Warn("Raft bootstrap", "err", err)
	} else {
		n.log.Info("Raft cluster bootstrapped", "servers", len(conf.Servers))
	}
	return true
}

// wantVoters is how many voters the cluster should have with up nodes up.
func (n *Node) wantVoters(up int) int {
	if n.cfg.MaxVoters > 0 {
		return n.cfg.MaxVoters
	}
	if up >= 5 {
		return 5
	}
	return 3
}

// reconcile runs on the leader: it adds the nodes gossip knows and Raft
// does not (voters up to wantVoters, then non-voters), promotes
// non-voters when voters are missing, follows address changes, and
// removes servers that left, that have been dead longer than DownOut, or
// that gossip has not known for that long.
func (n *Node) reconcile() {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return
	}
	servers := f.Configuration().Servers
	index := f.Index()
	members := n.cfg.Members()
	byName := make(map[string]cluster.Member, len(members))
	for _, m := range members {
		byName[m.Name] = m
	}
	now := time.Now()

	// Removals first: they may make room for voters.
	for _, s := range servers {
		id := string(s.ID)
		if id == n.cfg.Name {
			continue
		}
		m, known := byName[id]
		var why string
		switch {
		case known && (m.State == cluster.MemberLeft || m.Meta.State == cluster.StateLeaving):
			why = "left the cluster"
		case known && m.State == cluster.MemberDead && now.Sub(m.Since) > n.cfg.DownOut:
			why = "dead for longer than the down-out interval"
		case !known:
			first, ok := n.missing[s.ID]
			if !ok {
				n.missing[s.ID] = now
			} else if now.Sub(first) > n.cfg.DownOut {
				why = "unknown to gossip for longer than the down-out interval"
			}
		}
		if known {
			delete(n.missing, s.ID)
		}
		if why == "" {
			continue
		}
		if err := n.raft.RemoveServer(s.ID, index, 5*time.Second).Error(); err != nil {
			n.log.Warn("cannot remove Raft server", "server", id, "reason", why, "err", err)
			return
		}
		n.log.Info("Raft server removed", "server", id, "reason", why)
		delete(n.missing, s.ID)
		return // the configuration changed: start again next round
	}

	up := raftMembers(members)
	want := n.wantVoters(len(up))
	inConf := make(map[raft.ServerID]raft.Server, len(servers))
	voters := 0
	for _, s := range servers {
		inConf[s.ID] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	for _, m := range up {
		id := raft.ServerID(m.Name)
		addr := raft.ServerAddress(m.Meta.RaftAddr)
		s, ok := inConf[id]
		var fut raft.IndexFuture
		switch {
		case !ok && voters < want:
			fut = n.raft.AddVoter(id, addr, index, 10*time.Second)
		case !ok:
			fut = n.raft.AddNonvoter(id, addr, index, 10*time.Second)
		case s.Address != addr && s.Suffrage == raft.Voter:
			fut = n.raft.AddVoter(id, addr, index, 10*time.Second)
		case s.Address != addr:
			fut = n.raft.AddNonvoter(id, addr, index, 10*time.Second)
		case s.Suffrage != raft.Voter && voters < want:
			fut = n.raft.AddVoter(id, addr, index, 10*time.Second)
		default:
			continue
		}
		if err := fut.Error(); err != nil {
			n.log.Warn("cannot change Raft server", "server", m.Name, "addr", addr, "err", err)
		} else {
			n.log.Info("Raft server added or updated", "server", m.Name, "addr", addr, "voter", voters < want || s.Suffrage == raft.Voter)
		}
		return // one change per round: the next round sees the new index
	}
}
