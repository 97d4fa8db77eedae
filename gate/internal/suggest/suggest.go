// Package suggest finds the known word nearest to a misspelt one, for
// "did you mean" hints in configuration and policy errors.
package suggest

import "strings"

// Nearest returns the candidate closest to word (case-insensitive edit
// distance, a swap of neighbours counting as one edit), or "" when none is close enough to be a likely typo: at most
// a third of the word's length, and at least one edit.
func Nearest(word string, candidates []string) string {
	best, bestD := "", -1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := distance(lw, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(1, len([]rune(word))/3) {
		return ""
	}
	return best
}

// distance is the optimal-string-alignment distance between a and b, in
// runes: Levenshtein with a swap of two neighbours counted as one edit
// ("dns" for "dsn").
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
