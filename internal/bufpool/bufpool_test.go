package bufpool

import "testing"

func TestGetCapacity(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 4096, 4097, 1 << 20, 1<<20 + 1, 3 << 20, 1 << 26, 1<<26 + 1} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(append(b, 1))
		// Whatever the pool hands back next must still be big enough.
		if b2 := Get(n); cap(b2) < n {
			t.Fatalf("Get(%d) after Put: cap %d", n, cap(b2))
		}
	}
}

func TestPutOddCapacity(t *testing.T) {
	// A buffer grown by append has a capacity between classes: it must only
	// serve requests it can hold.
	for i := 0; i < 100; i++ {
		Put(make([]byte, 0, 5000+i*977))
		for _, n := range []int{4096, 5000, 8192, 9000} {
			if b := Get(n); cap(b) < n {
				t.Fatalf("Get(%d): cap %d", n, cap(b))
			}
		}
	}
}

func BenchmarkGetPut(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Put(Get(1 << 20))
	}
}

func TestClasses(t *testing.T) {
	for c := 0; c < len(pools); c++ {
		s := size(c)
		if c > 0 && s <= size(c-1) {
			t.Fatalf("class %d (%d) not above class %d (%d)", c, s, c-1, size(c-1))
		}
		if class(s) != c || floorClass(s) != c {
			t.Fatalf("size %d: class %d floor %d, want %d", s, class(s), floorClass(s), c)
		}
		if c > 0 && (class(s-1) != c || floorClass(s-1) != c-1) {
			t.Fatalf("size %d: class %d floor %d", s-1, class(s-1), floorClass(s-1))
		}
		if c+1 < len(pools) && class(s+1) != c+1 {
			t.Fatalf("size %d: class %d, want %d", s+1, class(s+1), c+1)
		}
		if c > 1 && s > size(c-1)*3/2+1 {
			t.Fatalf("class %d wastes more than half", c)
		}
	}
}
