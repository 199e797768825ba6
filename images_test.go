package elevator

import "testing"

func TestTheKMSKeyOfACopyIsInTheCopysRegion(t *testing.T) {
	for _, tt := range []struct{ key, want string }{
		{"alias/images", "alias/images"},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab"},
		{"arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
			"arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"},
		{"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
			"arn:aws-us-gov:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"},
		{"", ""},
	} {
		if got := (ImageSettings{KMSKey: tt.key}).KMSKeyIn("eu-west-1"); got != tt.want {
			t.Errorf("KMSKeyIn(eu-west-1) of %q = %q, want %q", tt.key, got, tt.want)
		}
	}
}
