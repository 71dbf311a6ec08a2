package psi

import "crypto/sha256"

// merkleRoot is the RFC 6962 / RFC 9162 Merkle Tree Hash of the leaves
// D[0] = header and D[1+i] = body[i·leaf : (i+1)·leaf] (protocol.md §2.3):
// leaf hash SHA-256(0x00 ‖ D[i]), node hash SHA-256(0x01 ‖ left ‖ right).
// Pairing neighbours level by level and promoting an odd last node gives the
// same tree as RFC 6962's split at the largest power of two.
func merkleRoot(header, body []byte, leaf int) [32]byte {
	n := 1 + len(body)/leaf
	level := make([][32]byte, n)
	level[0] = leafHash(header)
	for i := 1; i < n; i++ {
		level[i] = leafHash(body[(i-1)*leaf : i*leaf])
	}
	return reduceLevels(level)
}

func leafHash(b []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(b)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r *[32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// reduceLevels hashes a level of node hashes up to the root, in place.
func reduceLevels(level [][32]byte) [32]byte {
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i+1 < len(level); i += 2 {
			next = append(next, nodeHash(&level[i], &level[i+1]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return level[0]
}
