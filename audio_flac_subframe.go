package main

import "math/bits"

// A FLAC frame's subframes, one a channel, are where the samples are
// compressed: each is coded the smallest of the ways this encoder knows
// (RFC 9639 §9.2), FIXED predictors with Rice-coded residuals above all.

// flacRice is how a residual is Rice-coded: in 2^order partitions, each
// with its own parameter or, escaped, stored in widths bits a sample.
type flacRice struct {
	order  int
	params [1 << flacMaxPartitionOrder]uint8
	widths [1 << flacMaxPartitionOrder]uint8
}

// writeSubframe writes one channel of a block as the smallest of its
// CONSTANT, VERBATIM and FIXED codings. The FIXED order is the one whose
// residual is smallest in one Rice partition; only its residual is then
// partitioned, which costs a fifth of partitioning every order's and
// codes within a percent of it. Rice sizes are estimated from above, so
// FIXED is only chosen where it is truly smaller than VERBATIM.
func (e *flacEncoder) writeSubframe(x []int32) {
	n := len(x)
	if constant(x) {
		e.w.write(flacConstant<<1, 8)
		e.w.write(uint32(x[0]), flacBitsPerSample)
		return
	}
	copy(e.res[0], x)
	order, least := 0, -1
	for o := 0; o <= flacMaxFixedOrder && o < n; o++ {
		r := e.res[o][:n]
		if o > 0 {
			prev := e.res[o-1]
			for i := o; i < n; i++ {
				r[i] = prev[i] - prev[i-1] // each order is the last one's difference
			}
		}
		var sum uint64
		var peak uint32
		for _, v := range r[o:] {
			u := fold(v)
			sum, peak = sum+uint64(u), max(peak, u)
		}
		if size, _, _ := partitionCost(n-o, sum, peak); least < 0 || size+flacBitsPerSample*o < least {
			order, least = o, size+flacBitsPerSample*o
		}
	}
	var rice flacRice
	if 8+flacBitsPerSample*order+planRice(e.res[order][:n], order, &rice) >= 8+flacBitsPerSample*n {
		e.w.write(flacVerbatim<<1, 8)
		for _, s := range x {
			e.w.write(uint32(s), flacBitsPerSample)
		}
		return
	}
	e.w.write(uint32(flacFixed|order)<<1, 8)
	for _, s := range x[:order] {
		e.w.write(uint32(s), flacBitsPerSample) // warm-up samples
	}
	e.writeResidual(e.res[order][:n], order, &rice)
}

// constant reports whether all of x is one value.
func constant(x []int32) bool {
	for _, s := range x[1:] {
		if s != x[0] {
			return false
		}
	}
	return true
}

// planRice chooses the partitioning and parameters for the residual of a
// FIXED predictor of the given order, which starts at r[order], into
// plan, and returns its size in bits, from above. It tries every
// partition order the block size allows, from per-partition sums.
func planRice(r []int32, order int, plan *flacRice) int {
	n := len(r)
	top := min(flacMaxPartitionOrder, bits.TrailingZeros(uint(n)))
	for top > 0 && n>>top <= order { // each partition holds a sample past the warm-up
		top--
	}
	var sums [1 << flacMaxPartitionOrder]uint64
	var peaks [1 << flacMaxPartitionOrder]uint32
	size := n >> top
	for j := range 1 << top {
		var sum uint64
		var peak uint32
		for _, v := range r[max(j*size, order) : (j+1)*size] {
			u := fold(v)
			sum += uint64(u)
			peak = max(peak, u)
		}
		sums[j], peaks[j] = sum, peak
	}
	best := -1
	var cur flacRice
	for p := top; p >= 0; p-- {
		if p < top { // merge pairs of the finer partitions
			for j := range 1 << p {
				sums[j], peaks[j] = sums[2*j]+sums[2*j+1], max(peaks[2*j], peaks[2*j+1])
			}
		}
		total := 2 + 4 // coding method and partition order
		for j := range 1 << p {
			count := n >> p
			if j == 0 {
				count -= order
			}
			b, param, width := partitionCost(count, sums[j], peaks[j])
			total += b
			cur.params[j], cur.widths[j] = param, width
		}
		if best < 0 || total < best {
			best, *plan = total, cur
			plan.order = p
		}
	}
	return best
}

// partitionCost is the size in bits of count residuals, whose folded
// values sum to sum and peak at peak, with the best Rice parameter near
// their mean or escaped, and the parameter (flacEscape) and width chosen.
// Rice sizes are bounded from above: the sum of quotients is at most the
// quotient of the sum.
func partitionCost(count int, sum uint64, peak uint32) (int, uint8, uint8) {
	width := 0
	if peak > 0 {
		width = bits.Len32(peak>>1) + 1 // signed, as peak>>1 is the largest magnitude
	}
	best, param := 4+5+count*width, uint8(flacEscape)
	// The best parameter is near log2 of the mean, which is within one of
	// this difference: a division would cost more than the search.
	d := bits.Len64(sum) - bits.Len(uint(count))
	for k := max(d-2, 0); k <= min(d+1, flacMaxRiceParam); k++ {
		if b := 4 + count*(k+1) + int(sum>>k); b < best {
			best, param = b, uint8(k)
		}
	}
	return best, param, uint8(width)
}

// fold maps a signed residual to an unsigned one, 0, -1, 1, -2... to
// 0, 1, 2, 3..., as Rice codes them (RFC 9639 §9.2.7.2).
func fold(v int32) uint32 {
	return uint32(v<<1) ^ uint32(v>>31)
}

// writeResidual writes the residual r[order:] as plan says (RFC 9639
// §9.2.7): coding method 0, with 4-bit parameters.
func (e *flacEncoder) writeResidual(r []int32, order int, plan *flacRice) {
	w := &e.w
	w.write(0, 2)
	w.write(uint32(plan.order), 4)
	size := len(r) >> plan.order
	for j := range 1 << plan.order {
		part := r[max(j*size, order) : (j+1)*size]
		k := uint(plan.params[j])
		if k == flacEscape {
			width := uint(plan.widths[j])
			w.write(flacEscape, 4)
			w.write(uint32(width), 5)
			for _, v := range part {
				w.write(uint32(v), width)
			}
			continue
		}
		w.write(uint32(k), 4)
		for _, v := range part {
			u := fold(v)
			q := uint(u >> k)
			for ; q >= 32; q -= 32 {
				w.write(0, 32)
			}
			if q+1+k <= 32 { // quotient in unary, ended by a 1, then the remainder
				w.write(1<<k|u&(1<<k-1), q+1+k)
			} else {
				w.write(1, q+1)
				w.write(u, k)
			}
		}
	}
}

// flacBitWriter appends bits to buf, most significant first.
type flacBitWriter struct {
	buf []byte
	acc uint64 // the last n bits are not yet in buf
	n   uint
}

// write appends the low width bits of v; width is at most 32.
func (w *flacBitWriter) write(v uint32, width uint) {
	w.acc = w.acc<<width | uint64(v)&(1<<width-1)
	for w.n += width; w.n >= 8; {
		w.n -= 8
		w.buf = append(w.buf, byte(w.acc>>w.n))
	}
}

// pad fills the last byte with zero bits, as a frame's subframes end.
func (w *flacBitWriter) pad() {
	if w.n > 0 {
		w.write(0, 8-w.n)
	}
}
