package mask

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Realistic cell values for benchmarks and fuzz seeds: names, addresses,
// amounts, timestamps, identifiers, statuses, free-text notes and JSON
// documents, a few of them holding personal data.

var (
	firstNames = []string{"Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "José", "Zoë", "Björn", "Aiko"}
	lastNames  = []string{"Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "García", "Müller", "Sørensen", "Tanaka"}
	streets    = []string{"Baker Street", "Amphitheatre Parkway", "Rue de Rivoli", "Unter den Linden", "Calle Mayor", "Market Street"}
	cities     = []string{"London NW1 6XE", "Mountain View, CA 94043", "75001 Paris", "10117 Berlin", "28013 Madrid", "San Francisco, CA 94103"}
	statuses   = []string{"shipped", "pending", "cancelled", "refunded", "delivered", "on hold"}
	noteWords  = strings.Fields(`the customer called about order delivery was late please refund
		shipping address changed to the new office contact again next week ticket escalated to
		tier two agent confirmed payment received invoice sent by post thanks for your patience
		package arrived damaged replacement requested warehouse notified`)
	pii = []string{
		"bob.smith+orders@example.com", "4111 1111 1111 1111", "5555-5555-5555-4444",
		"+1 (415) 555-2671", "123-45-6789", "DE89 3704 0044 0532 0130 00",
		"maria.garcia@correo.example.es", "+44 20 7946 0958", "378282246310005",
	}
)

// cleanCell returns a cell in which nothing is sensitive.
func cleanCell(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
	case 1:
		return fmt.Sprintf("%d %s, %s", 1+r.IntN(2000), streets[r.IntN(len(streets))], cities[r.IntN(len(cities))])
	case 2:
		return fmt.Sprintf("%d.%02d", r.IntN(100000), r.IntN(100))
	case 3:
		return fmt.Sprintf("2024-%02d-%02d %02d:%02d:%02d+00", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	case 4:
		return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1))
	case 5:
		return statuses[r.IntN(len(statuses))]
	case 6:
		return note(r, "")
	}
	return doc(r, "")
}

// dirtyCell returns a note or document holding one sensitive value.
func dirtyCell(r *rand.Rand) string {
	p := pii[r.IntN(len(pii))]
	if r.IntN(2) == 0 {
		return note(r, p)
	}
	return doc(r, p)
}

func note(r *rand.Rand, p string) string {
	n := 12 + r.IntN(20)
	w := make([]string, 0, n+1)
	for range n {
		w = append(w, noteWords[r.IntN(len(noteWords))])
	}
	if p != "" {
		i := r.IntN(len(w))
		w = append(w[:i], append([]string{p}, w[i:]...)...)
	}
	return strings.Join(w, " ")
}

func doc(r *rand.Rand, p string) string {
	contact := fmt.Sprintf("ext. %d", 100+r.IntN(900))
	if p != "" {
		contact = p
	}
	return fmt.Sprintf(`{"id": %d, "status": %q, "items": [{"sku": "SKU-%05d", "qty": %d, "price": %d.%02d}], "contact": %q, "note": %q}`,
		r.IntN(1000000), statuses[r.IntN(len(statuses))], r.IntN(100000), 1+r.IntN(9), r.IntN(500), r.IntN(100), contact, note(r, ""))
}

// mixedCorpus returns n cells of which about one in twenty is dirty.
func mixedCorpus(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		if r.IntN(20) == 0 {
			out[i] = []byte(dirtyCell(r))
		} else {
			out[i] = []byte(cleanCell(r))
		}
	}
	return out
}

func cleanCorpus(n int) [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(cleanCell(r))
	}
	return out
}

func dirtyCorpus(n int) [][]byte {
	r := rand.New(rand.NewPCG(5, 6))
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(dirtyCell(r))
	}
	return out
}
