package pgcluster

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestDSNEscapesCredentials: generated passwords may hold URL delimiters;
// the DSN must still parse to exactly the given user, password and port.
func TestDSNEscapesCredentials(t *testing.T) {
	t.Parallel()
	c := &Cluster{cfg: Config{Port: 42359}}
	for _, pw := range []string{"plain", "a/b+c=", "p@ss:w/rd?#%", "base64+/=="} {
		cfg, err := pgx.ParseConfig(c.DSN("healthprep", "owner", pw))
		if err != nil {
			t.Fatalf("password %q: DSN does not parse: %v", pw, err)
		}
		if cfg.User != "owner" || cfg.Password != pw || cfg.Port != 42359 || cfg.Database != "healthprep" {
			t.Errorf("password %q: parsed user %q password %q port %d db %q", pw, cfg.User, cfg.Password, cfg.Port, cfg.Database)
		}
	}
}
