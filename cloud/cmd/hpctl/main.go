// Command hpctl is the operator's command line for a HealthPrep cloud. It
// talks to the server over Connect like any client (so RBAC applies), with
// the session token of a signed-in root admin; `audit verify -dsn` reads
// Postgres directly with an operator DSN instead.
//
//	hpctl [-server URL] signin EMAIL            password and TOTP code on stdin; prints a session token
//	hpctl org create -name NAME -slug SLUG
//	hpctl org list
//	hpctl invite -org ID -email EMAIL [-role admin|nurse|ma]
//	hpctl users -org ID
//	hpctl audit verify -org ID                  through the server
//	hpctl audit verify -dsn DSN                 every organisation, straight from Postgres
//
// The token comes from HP_TOKEN. The first root admin is created on the
// server side with `healthprep-cloud bootstrap-root`, which holds the
// server's secrets.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, http.DefaultClient))
}

type cli struct {
	ctx    context.Context
	server string
	token  string
	http   connect.HTTPClient
	stdin  *bufio.Reader
	out    io.Writer
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, hc connect.HTTPClient) int {
	fs := flag.NewFlagSet("hpctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr(getenv("HP_SERVER"), "http://127.0.0.1:8080"), "base URL of the cloud (HP_SERVER)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cl := &cli{ctx: ctx, server: strings.TrimRight(*server, "/"), token: getenv("HP_TOKEN"), http: hc, stdin: bufio.NewReader(stdin), out: stdout}
	if err := cl.dispatch(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "hpctl: %s\n", describe(err))
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func envOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

type usageError string

func (u usageError) Error() string { return string(u) }

const usage = "usage: hpctl [-server URL] signin EMAIL | org create|list | invite | users | audit verify"

// describe is what an operator reads for an error: the server's message
// and its code, never a stack of wrappers.
func describe(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s (%s)", ce.Message(), ce.Code())
	}
	return err.Error()
}

func (cl *cli) dispatch(args []string) error {
	if len(args) == 0 {
		return usageError(usage)
	}
	switch args[0] {
	case "signin":
		return cl.signin(args[1:])
	case "org":
		if len(args) < 2 {
			return usageError("usage: hpctl org create -name NAME -slug SLUG | hpctl org list")
		}
		switch args[1] {
		case "create":
			return cl.orgCreate(args[2:])
		case "list":
			return cl.orgList()
		}
	case "invite":
		return cl.invite(args[1:])
	case "users":
		return cl.users(args[1:])
	case "audit":
		if len(args) >= 2 && args[1] == "verify" {
			return cl.auditVerify(args[2:])
		}
	}
	return usageError(usage)
}

func authed[T any](cl *cli, msg *T) *connect.Request[T] {
	r := connect.NewRequest(msg)
	r.Header().Set("Authorization", "Bearer "+cl.token)
	return r
}

func (cl *cli) line(prompt string) (string, error) {
	s, err := cl.stdin.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", fmt.Errorf("reading %s from standard input: %w", prompt, err)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (cl *cli) signin(args []string) error {
	if len(args) != 1 {
		return usageError("usage: hpctl signin EMAIL (password, then TOTP code, on standard input)")
	}
	pw, err := cl.line("password")
	if err != nil {
		return err
	}
	auth := c.NewAuthServiceClient(cl.http, cl.server)
	res, err := auth.SignIn(cl.ctx, connect.NewRequest(&v1.SignInRequest{Email: args[0], Password: pw, ClientKind: v1.ClientKind_CLIENT_KIND_API}))
	if err != nil {
		return err
	}
	tok := res.Msg.GetSessionToken()
	if res.Msg.GetTotpEnrolmentRequired() {
		return errors.New("this account must set up two-factor authentication first (web sign-in)")
	}
	if res.Msg.GetSecondFactorRequired() {
		code, err := cl.line("TOTP code")
		if err != nil {
			return err
		}
		cl.token = tok
		v, err := auth.VerifySecondFactor(cl.ctx, authed(cl, &v1.VerifySecondFactorRequest{Code: &v1.VerifySecondFactorRequest_TotpCode{TotpCode: code}}))
		if err != nil {
			return err
		}
		tok = v.Msg.GetSessionToken()
	}
	fmt.Fprintln(cl.out, tok)
	return nil
}

func (cl *cli) orgCreate(args []string) error {
	fs := flag.NewFlagSet("org create", flag.ContinueOnError)
	name := fs.String("name", "", "organisation name")
	slug := fs.String("slug", "", "short unique name (lowercase letters, digits, hyphens)")
	maxUsers := fs.Int("max-users", 0, "user limit (0: default)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	res, err := c.NewOrgServiceClient(cl.http, cl.server).CreateOrg(cl.ctx, authed(cl, &v1.CreateOrgRequest{Name: *name, Slug: *slug, MaxUsers: int32(*maxUsers)}))
	if err != nil {
		return err
	}
	o := res.Msg.GetOrganization()
	fmt.Fprintf(cl.out, "created organisation %s (%s) id %s\n", o.GetName(), o.GetSlug(), o.GetId())
	return nil
}

func (cl *cli) orgList() error {
	client := c.NewOrgServiceClient(cl.http, cl.server)
	token := ""
	for {
		res, err := client.ListOrgs(cl.ctx, authed(cl, &v1.ListOrgsRequest{PageToken: token}))
		if err != nil {
			return err
		}
		for _, o := range res.Msg.GetOrganizations() {
			fmt.Fprintf(cl.out, "%s\t%s\t%s\t%s\n", o.GetId(), o.GetSlug(), statusName(o.GetStatus()), o.GetName())
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return nil
		}
	}
}

func statusName(s v1.OrgStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "ORG_STATUS_"))
}

var roles = map[string]v1.Role{"admin": v1.Role_ROLE_ADMIN, "nurse": v1.Role_ROLE_NURSE, "ma": v1.Role_ROLE_MA}

func (cl *cli) invite(args []string) error {
	fs := flag.NewFlagSet("invite", flag.ContinueOnError)
	orgID := fs.String("org", "", "organisation id")
	email := fs.String("email", "", "the person's email")
	role := fs.String("role", "admin", "admin, nurse or ma")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	r, ok := roles[*role]
	if !ok {
		return usageError("-role must be admin, nurse or ma")
	}
	res, err := c.NewUserServiceClient(cl.http, cl.server).InviteUser(cl.ctx, authed(cl, &v1.InviteUserRequest{OrgId: *orgID, Email: *email, Role: r}))
	if err != nil {
		return err
	}
	inv := res.Msg.GetInvite()
	fmt.Fprintf(cl.out, "invited %s as %s; the link expires %s\n", inv.GetEmail(), *role, inv.GetExpiresAt().AsTime().Format(time.RFC3339))
	return nil
}

func (cl *cli) users(args []string) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	orgID := fs.String("org", "", "organisation id (empty: your own)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	client := c.NewUserServiceClient(cl.http, cl.server)
	token := ""
	for {
		res, err := client.ListUsers(cl.ctx, authed(cl, &v1.ListUsersRequest{OrgId: *orgID, PageToken: token, IncludeDeactivated: true}))
		if err != nil {
			return err
		}
		for _, u := range res.Msg.GetUsers() {
			fmt.Fprintf(cl.out, "%s\t%s\t%s\t%s\n", u.GetId(), u.GetEmail(),
				strings.ToLower(strings.TrimPrefix(u.GetRole().String(), "ROLE_")),
				strings.ToLower(strings.TrimPrefix(u.GetStatus().String(), "USER_STATUS_")))
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return nil
		}
	}
}

// errTampered makes `audit verify` exit non-zero when a chain is broken.
var errTampered = errors.New("the audit log has been tampered with")

func (cl *cli) auditVerify(args []string) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	orgID := fs.String("org", "", "organisation id (through the server)")
	dsn := fs.String("dsn", "", "operator DSN: verify every organisation straight from Postgres")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *dsn != "" {
		db, err := tenancy.Open(cl.ctx, *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		r, err := audit.VerifyAll(cl.ctx, db)
		if err != nil {
			return err
		}
		ok, err := audit.WriteVerifyReport(cl.out, r)
		if err != nil {
			return err
		}
		if !ok {
			return errTampered
		}
		return nil
	}
	res, err := c.NewAuditServiceClient(cl.http, cl.server).VerifyAuditChain(cl.ctx, authed(cl, &v1.VerifyAuditChainRequest{OrgId: *orgID}))
	if err != nil {
		return err
	}
	m := res.Msg
	if !m.GetOk() {
		fmt.Fprintf(cl.out, "audit verify: TAMPERED: org %s: %s (first bad entry %d)\n", m.GetOrgId(), m.GetProblem(), m.GetFirstBadSeq())
		return errTampered
	}
	fmt.Fprintf(cl.out, "audit verify: ok: org %s, %d entries\n", m.GetOrgId(), m.GetEntriesChecked())
	return nil
}
