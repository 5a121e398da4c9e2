package jobs

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// crockford is the base32 alphabet of ULIDs: ids sort by time as strings.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a new job id: a ULID (48-bit millisecond time, 80 random bits).
func NewID(now time.Time) string {
	var entropy [10]byte
	_, _ = rand.Read(entropy[:]) // crypto/rand.Read never fails (Go 1.24+)
	return ulid(now, entropy)
}

// DerivedID returns a job id fixed by (t, n): the same inputs give the same id.
// It names requests that arrived without one, from their place in a stream, so
// that a redelivery is the same job.
func DerivedID(t time.Time, n uint64) string {
	var entropy [10]byte
	binary.BigEndian.PutUint64(entropy[2:], n)
	return ulid(t, entropy)
}

func ulid(t time.Time, entropy [10]byte) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	copy(b[6:], entropy[:])
	var out [26]byte
	// 128 bits as 26 base32 digits, most significant first (first digit carries 3 bits).
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
