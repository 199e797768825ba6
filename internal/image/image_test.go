package image

import "testing"

func TestAllowingAnImageKeepsWhatItAllowed(t *testing.T) {
	tests := []struct{ list, add, want string }{
		{"", "shop", "shop"},
		{"billing", "shop", "billing,shop"},
		{"shop,billing", "shop", "shop,billing"},
		{"*", "shop", "*"},
	}
	for _, tt := range tests {
		if got := addToList(tt.list, tt.add); got != tt.want {
			t.Errorf("addToList(%q, %q) = %q, want %q", tt.list, tt.add, got, tt.want)
		}
	}
}
