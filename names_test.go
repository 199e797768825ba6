package elevator

import "testing"

// TestNamesKeepTheirValues pins the names persisted in AWS: tags on every
// resource Elevator made, IAM paths, bucket and table names. Changing one
// strands what is already there, so this is the one place their literal
// values are written twice.
func TestNamesKeepTheirValues(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"the orbit tag", TagOrbit, "elevator:orbit"},
		{"the region tag", TagRegion, "elevator:region"},
		{"the managed-by tag", TagManagedBy, "elevator:managed-by"},
		{"its value", ManagedBy, "elevator"},
		{"the tier tag", TagTier, "elevator:tier"},
		{"the app tag", TagApp, "elevator:app"},
		{"the service tag", TagService, "elevator:service"},
		{"the release tag", TagRelease, "elevator:release"},
		{"the allow tag of an orbit", AllowTag("production"), "elevator:allow:production"},
		{"an app's path", AppPath("prod", "shop"), "/elevator/prod/shop/"},
		{"a service's IAM path", IAMPath("prod", "shop", "web"), "/elevator/prod/shop/web/"},
		{"the state bucket", StateBucketName("123456789012", "eu-west-1", "prod"), "elevator-123456789012-eu-west-1-prod"},
		{"the releases table", ReleasesTableName("prod"), "prod-elevator-releases"},
		{"the locks table", LocksTableName("prod"), "prod-elevator-locks"},
		{"the images table", ImagesTableName("prod"), "prod-elevator-images"},
		{"the images table's partition key", ImagesKeyApp, "app"},
		{"the images table's sort key", ImagesKeyImage, "image"},
		{"the tier instances run in", TierPrivate, "private"},
		{"the public tier", TierPublic, "public"},
		{"the data tier", TierData, "data"},
		{"the bastion's tier", TierMaintenance, "maintenance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	if DefaultReleaseTimeout.String() != "10m0s" {
		t.Errorf("DefaultReleaseTimeout = %s, want 10m", DefaultReleaseTimeout)
	}
}

func TestIsRegionNameTakesEveryPartitionsForm(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"us-east-1", true},
		{"ap-southeast-7", true},
		{"us-gov-west-1", true},
		{"cn-northwest-1", true},
		{"eu-isoe-west-1", true},
		{"us-isob-east-1", true},
		{"us-east-12", true}, // botocore's partitions allow several digits
		{"", false},
		{"us-east", false},
		{"useast1", false},
		{"US-EAST-1", false},
		{"us-east-1a", false}, // a zone, not a region
		{"u-east-1", false},
		{"us-east-1 ", false},
		{"arn:aws:sns:us-east-1", false},
	}
	for _, tt := range tests {
		if got := IsRegionName(tt.name); got != tt.want {
			t.Errorf("IsRegionName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestECSInstanceIAMPathIsUnderTheOrbitsPath(t *testing.T) {
	if got := ECSInstanceIAMPath("prod"); got != "/elevator/prod/ecs/" {
		t.Errorf("ECSInstanceIAMPath(prod) = %q", got)
	}
}
