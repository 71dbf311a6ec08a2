package psi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"filippo.io/nistec"

	"github.com/vouchsafe/vouchsafe/internal/p256"
)

const keyMagic = "VSSK"

// keyVersion is the server key file format: version 2 added the checksum.
const keyVersion = 0x02

// ServerKeySize is the length of an encoded ServerKey.
const ServerKeySize = serverKeyBody + sha256.Size

const serverKeyBody = 4 + 1 + 1 + 1 + 1 + 8 + 8 + 2 + 2 + 4 + 32 + 32

// ErrOldServerKey is returned for a server key file of format version 1,
// which had no checksum.
var ErrOldServerKey = errors.New("psi: server key file format version 1 has no checksum and is no longer read; " +
	"convert it with `vouchsafe db upgrade-key`")

// UpgradeServerKey converts a server key of format version 1 (the same
// fields, no checksum) to the current format. It checks the fields as
// UnmarshalBinary does; it cannot tell a bit that flipped before the
// conversion, so check the result against the table (CheckTable).
func UpgradeServerKey(v1 []byte) ([]byte, error) {
	if len(v1) != serverKeyBody || string(v1[:4]) != keyMagic || v1[4] != 0x01 {
		return nil, errors.New("psi: not a server key file of format version 1")
	}
	b := make([]byte, 0, ServerKeySize)
	b = append(b, v1...)
	b[4] = keyVersion
	sum := sha256.Sum256(b)
	b = append(b, sum[:]...)
	var k ServerKey
	if err := k.UnmarshalBinary(b); err != nil {
		clear(b)
		return nil, err
	}
	return b, nil
}

// ServerKey is the server's secret for one table epoch: the blinding scalar
// α (L = α·G) and the seed of the empty slots' scalars, with the public
// values the server needs to parse and test vouchers (db_id, d, t, s,
// AD_LEN). Its encoding ([ServerKey.MarshalBinary]) is secret: store it with
// restrictive permissions. String and errors never print the secret.
type ServerKey struct {
	dbid      DBID
	epoch     uint64
	d         int
	params    Params
	alpha     [32]byte
	emptySeed [32]byte
	l         *nistec.P256Point
}

// DBID is the db_id of the table built with this key.
func (k *ServerKey) DBID() DBID { return k.dbid }

// Epoch is the table's database version.
func (k *ServerKey) Epoch() uint64 { return k.epoch }

// D is the number of cuckoo functions of the table.
func (k *ServerKey) D() int { return k.d }

// Params are the table's t, s and AD_LEN.
func (k *ServerKey) Params() Params { return k.params }

// String names the key by its db_id only.
func (k *ServerKey) String() string { return "psi.ServerKey(db_id " + k.dbid.String() + ")" }

func newServerKey(rand io.Reader, params Params, d int, epoch uint64) (*ServerKey, error) {
	k := &ServerKey{epoch: epoch, d: d, params: params}
	a, err := randomNonZeroScalar(rand)
	if err != nil {
		return nil, err
	}
	k.alpha = a
	if _, err := io.ReadFull(rand, k.emptySeed[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	if k.l, err = nistec.NewP256Point().ScalarBaseMult(k.alpha[:]); err != nil {
		return nil, err
	}
	return k, nil
}

// blind returns α·H(x).
func (k *ServerKey) blind(nonceH []byte, x *Hash) (*nistec.P256Point, error) {
	h, err := hashPoint(nonceH, x)
	if err != nil {
		return nil, err
	}
	return h.ScalarMult(h, k.alpha[:])
}

// emptySlot returns e_i·G with e_i = HashToScalar(empty_seed ‖ BE64(i), DST_EMPTY).
func (k *ServerKey) emptySlot(i uint64) (*nistec.P256Point, error) {
	var msg [40]byte
	copy(msg[:], k.emptySeed[:])
	binary.BigEndian.PutUint64(msg[32:], i)
	e, err := p256.HashToScalar(msg[:], []byte(dstEmpty))
	if err != nil {
		return nil, err
	}
	if e == [32]byte{} {
		return nil, errors.New("psi: empty-slot scalar is zero") // probability 2^-256
	}
	return nistec.NewP256Point().ScalarBaseMult(e[:])
}

// MarshalBinary encodes the key (format version 2):
//
//	"VSSK" ‖ 0x02 ‖ suite ‖ d ‖ 0 ‖ db_id(8) ‖ epoch(8) ‖ t(2) ‖ s(2) ‖
//	AD_LEN(4) ‖ α(32) ‖ empty_seed(32) ‖ SHA-256(everything before)
func (k *ServerKey) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, ServerKeySize)
	b = append(b, keyMagic...)
	b = append(b, keyVersion, Suite, byte(k.d), 0)
	b = append(b, k.dbid[:]...)
	b = binary.BigEndian.AppendUint64(b, k.epoch)
	b = binary.BigEndian.AppendUint16(b, uint16(k.params.T))
	b = binary.BigEndian.AppendUint16(b, uint16(k.params.S))
	b = binary.BigEndian.AppendUint32(b, uint32(k.params.ADLen))
	b = append(b, k.alpha[:]...)
	b = append(b, k.emptySeed[:]...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// UnmarshalBinary decodes a key written by MarshalBinary, checks its
// checksum (a flipped bit anywhere is ErrChecksum, never a different key)
// and that α is a non-zero scalar below the group order.
func (k *ServerKey) UnmarshalBinary(b []byte) error {
	if len(b) < 5 || string(b[:4]) != keyMagic {
		return fmt.Errorf("psi: server key: %w", ErrMagic)
	}
	if b[4] == 0x01 {
		return ErrOldServerKey
	}
	if b[4] != keyVersion {
		return fmt.Errorf("psi: server key: %w %d", ErrVersion, b[4])
	}
	if len(b) != ServerKeySize {
		return fmt.Errorf("psi: server key: %w: %d bytes, want %d", ErrLength, len(b), ServerKeySize)
	}
	sum := sha256.Sum256(b[:serverKeyBody])
	if subtle.ConstantTimeCompare(sum[:], b[serverKeyBody:]) != 1 {
		return fmt.Errorf("psi: server key: %w", ErrChecksum)
	}
	if b[5] != Suite {
		return fmt.Errorf("psi: server key: %w %d", ErrSuite, b[5])
	}
	d := int(b[6])
	if d != 2 && d != 3 || b[7] != 0 {
		return fmt.Errorf("psi: server key: bad d=%d or reserved byte", d)
	}
	var nk ServerKey
	nk.d = d
	copy(nk.dbid[:], b[8:16])
	nk.epoch = binary.BigEndian.Uint64(b[16:])
	nk.params = Params{
		T:     int(binary.BigEndian.Uint16(b[24:])),
		S:     int(binary.BigEndian.Uint16(b[26:])),
		ADLen: int(binary.BigEndian.Uint32(b[28:])),
	}
	if err := nk.params.Check(); err != nil {
		return fmt.Errorf("psi: server key: %w", err)
	}
	copy(nk.alpha[:], b[32:64])
	copy(nk.emptySeed[:], b[64:96])
	if !scalarInRange(nk.alpha[:]) || nk.alpha == [32]byte{} {
		return errors.New("psi: server key: α is not a non-zero scalar below the group order")
	}
	var err error
	if nk.l, err = nistec.NewP256Point().ScalarBaseMult(nk.alpha[:]); err != nil {
		return err
	}
	*k = nk
	return nil
}

// CheckTable reports whether t is the table this key built: same db_id and L.
func (k *ServerKey) CheckTable(t *Table) error {
	if t.DBID() != k.dbid {
		return fmt.Errorf("psi: table db_id %s is not the key's %s", t.DBID(), k.dbid)
	}
	if subtle.ConstantTimeCompare(t.l.BytesCompressed(), k.l.BytesCompressed()) != 1 {
		return errors.New("psi: table L does not match the key")
	}
	return nil
}

// orderBytes is q, big-endian.
var orderBytes = [32]byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
}

// scalarInRange reports whether the 32-byte big-endian b is below q, in
// constant time.
func scalarInRange(b []byte) bool {
	// Compute b − q and look at the borrow.
	var borrow uint64
	for i := 31; i >= 0; i-- {
		d := uint64(b[i]) - uint64(orderBytes[i]) - borrow
		borrow = (d >> 63) & 1
	}
	return borrow == 1
}

// randomScalar draws a uniform scalar in [0, q) by rejection sampling (a
// rejection happens with probability about 2^-32 and reveals nothing about
// the accepted value).
func randomScalar(rand io.Reader, out *[32]byte) error {
	for {
		if _, err := io.ReadFull(rand, out[:]); err != nil {
			return fmt.Errorf("psi: reading randomness: %w", err)
		}
		if scalarInRange(out[:]) {
			return nil
		}
	}
}

func randomNonZeroScalar(rand io.Reader) ([32]byte, error) {
	var s [32]byte
	for {
		if err := randomScalar(rand, &s); err != nil {
			return s, err
		}
		if s != [32]byte{} {
			return s, nil
		}
	}
}
