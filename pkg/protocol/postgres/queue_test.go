package postgres

import (
	"testing"
	"time"
)

func TestQueueBound(t *testing.T) {
	q := queue{room: make(chan struct{}, 1)}
	for range maxPending {
		q.push(&pending{kind: 'S'})
	}
	if !q.full() {
		t.Fatal("not full at maxPending")
	}
	done := make(chan struct{})
	waited := make(chan bool, 1)
	go func() { waited <- q.waitRoom(done) }()
	select {
	case <-waited:
		t.Fatal("waitRoom returned while the queue is full")
	case <-time.After(50 * time.Millisecond):
	}
	q.pop()
	select {
	case ok := <-waited:
		if !ok {
			t.Fatal("waitRoom = false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitRoom still waiting after a pop")
	}
	q.push(&pending{kind: 'S'})
	go func() { waited <- q.waitRoom(done) }()
	close(done)
	if ok := <-waited; ok {
		t.Fatal("waitRoom = true after done")
	}
}
