// Package securenet secures stream connections between dfs nodes with the
// cluster key alone: only holders of the 32-byte cluster key complete a
// handshake, and afterwards nobody on the network can read the stream or
// alter, drop, reorder or replay its bytes without the connection failing.
// It is the stream layer under the Raft transport, whose TCP transport
// (hashicorp/raft's) is neither authenticated nor encrypted.
//
// Listen and Dial work over TCP; NewListener, Server and Client wrap a
// listener or a connection already established (net.Pipe in tests,
// another transport). All return net.Conn values whose handshake is done.
//
// # Threat model
//
// Whoever holds the cluster key is trusted: every node of the cluster, and
// anyone the key leaked to. The attacker is on the network: it reads,
// injects, alters, drops, reorders and replays bytes, and opens
// connections of its own. Against it the package gives:
//
//   - Authentication of key possession, both ways. Each side proves it
//     holds the key with an HMAC over a transcript that includes a fresh
//     random nonce from the other side, so a handshake recorded earlier
//     cannot be replayed to either side, and the two proofs carry
//     different labels, so one cannot be reflected as the other.
//   - Confidentiality and integrity of the stream. Each direction has its
//     own AES-256-GCM key, derived from the cluster key and both nonces,
//     so new for every connection; each frame is numbered by its position
//     (the GCM nonce), so a frame altered, dropped, reordered, replayed
//     or moved from another connection fails authentication.
//   - The key never on the wire: only HMACs keyed with a key derived from
//     it (K_auth) are sent; the raw key is used only as HKDF input.
//   - Domain separation: Config.Purpose is bound into every derived key,
//     so a connection or proof made for one purpose ("raft") is worthless
//     for another.
//
// It does not give:
//
//   - Protection from traffic analysis: frame lengths (so write sizes up
//     to 64 KiB) and timing are visible, and so are the purpose and the
//     protocol version.
//   - Protection from denial of service: anyone can open connections. A
//     listener handshakes at most Config.MaxHandshakes at once, each for at
//     most Config.HandshakeTimeout, and refuses the rest, so a flood costs
//     bounded memory and goroutines but can keep legitimate peers out; and
//     anyone on the path can reset a connection.
//   - Forward secrecy: there is no Diffie-Hellman exchange; session keys
//     derive from the cluster key and nonces sent in clear, so someone who
//     records traffic and later obtains the key can decrypt it.
//   - Node identity: the handshake proves that the peer holds the key, not
//     which node it is (that is Raft's business: server IDs).
//   - An authenticated end of stream: a connection cut by the network at a
//     frame boundary reads io.EOF like one closed by the peer. Callers must
//     not take io.EOF as proof that the peer sent all it meant to (Raft's
//     length-prefixed RPCs detect a cut message).
//
// # Protocol, version 1
//
// Integers are big-endian; strings are ASCII without a terminator; ||
// is concatenation. K is the 32-byte cluster key, P the purpose. HKDF is
// HKDF-SHA256 (RFC 5869) with a 32-byte output, HMAC is HMAC-SHA256.
//
//	K_auth = HKDF(secret K, salt empty, info "dfs securenet auth" || P)
//
//	client → server  ClientHello: "DFSS" 0x01 len(P) (1 byte) P nonce_c (32 random bytes)
//	server → client  ServerHello: "DFSS" 0x01 nonce_s (32 random bytes) proof_s (32)
//	client → server  ClientProof: proof_c (32)
//
//	T       = ClientHello || ServerHello without proof_s
//	proof_s = HMAC(K_auth, "server" || T)
//	proof_c = HMAC(K_auth, "client" || T || proof_s)
//
// The server reads the ClientHello and closes the connection, without
// answering, if the magic "DFSS" is wrong, the version is not one it
// speaks, or P is not its own purpose; otherwise it answers. The client
// checks the ServerHello's magic and version and compares proof_s in
// constant time; on a mismatch it closes the connection, sending nothing
// more. The server compares proof_c in constant time. A later version
// will change the version byte; a server that does not speak the
// client's version closes the connection.
//
// Then each side derives
//
//	K_c2s = HKDF(secret K, salt nonce_c || nonce_s, info "dfs securenet c2s" || P)
//	K_s2c = HKDF(secret K, salt nonce_c || nonce_s, info "dfs securenet s2c" || P)
//
// and the stream in each direction is a sequence of frames:
//
//	length (4 bytes, of the sealed frame: 16 to 65536+16)
//	sealed = AES-256-GCM-Seal(K_dir, nonce, plaintext, no additional data)
//
// where plaintext is 0 to 64 KiB (MaxFramePlaintext) and nonce is the
// 96-bit big-endian number of the frame in its direction, from 0. The
// counter never repeats under one key (the keys are new for every
// connection); after 2^64-1 frames in a direction the connection is
// closed (ErrExhausted), long before the upper 32 bits of the nonce
// would be used. Write sends nothing for an empty write and splits a
// larger one into frames of 64 KiB; a reader accepts empty frames. A
// frame whose length is out of range or that fails to open is fatal: Read
// returns an error wrapping ErrBadFrame and the connection is closed.
//
// There is no rekeying. TLS 1.3's conservative AES-GCM margin (an
// attacker's advantage of 2^-57) holds for about 2^34.5 blocks, some 360
// GiB, in one direction of a connection; beyond, the margin shrinks with
// the square of the volume (2^-51 after 3.6 TiB). A caller that sends
// that much on one connection should redial now and then.
//
// # Errors
//
// A failed handshake closes the connection. Client and Dial return an
// error wrapping ErrHandshake whose text gives the reason ("the server's
// proof does not match: the cluster key probably differs"), and also
// os.ErrDeadlineExceeded after a timeout or the context's error after a
// cancellation. Server returns the same kind of error; a listener logs it
// at Warn with the remote address and the reason, rate-limited (a burst
// of 20 lines, then one a second; the count of lines dropped goes on the
// next), and never delivers the connection. Key material is never
// logged. The client's handshake ends when it sends its proof, so if the
// server then refused it (which only a broken or hostile path can cause)
// the client sees the connection closed on first use.
//
// # Concurrency and buffers
//
// A connection is safe for one reader and one writer at once (each
// direction has its own lock), as Raft uses it. Close is idempotent and
// unblocks a Read or Write in progress; deadlines are passed to the
// underlying connection. A Read that times out keeps what it received of
// a frame and a later Read resumes; a Write that fails or times out may
// have cut a frame, so every later Write returns the same error. Read
// keeps the plaintext of a frame that b could not hold for the next
// calls. Each direction reuses one buffer (a few KiB, grown once to hold
// a 64 KiB frame when one is sent or received): reads decrypt in place
// and read ahead, writes seal straight into the buffer and send each
// frame with one write, so the steady state allocates nothing.
package securenet
