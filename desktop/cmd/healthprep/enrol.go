package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"

	"healthprep.dev/desktop/internal/syncagent"
)

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// enrol exchanges an enrolment code for device credentials: the token goes
// to the key store, the device record to the profile, and the encrypted
// store is created.
func enrol(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var pf profileFlags
	var server, code, name string
	fs := flag.NewFlagSet("healthprep enrol", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf.register(fs)
	fs.StringVar(&server, "server", "", "the cloud's base URL (required)")
	fs.StringVar(&code, "code", "", "the enrolment code from an administrator (required)")
	fs.StringVar(&name, "name", "", "this workstation's name, as administrators will see it (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := pf.check()
	switch {
	case err != nil:
	case server == "":
		err = errors.New("-server: required")
	case code == "":
		err = errors.New("-code: required")
	case name == "":
		err = errors.New("-name: required")
	default:
		err = checkServer(server)
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthprep enrol: %v\n", err)
		return 2
	}
	if d, err := readDevice(pf.Dir); err == nil {
		fmt.Fprintf(stderr, "healthprep enrol: this profile is already enrolled as %q (device %s)\n", d.Name, d.DeviceID)
		return 1
	}
	p, err := openProfile(ctx, pf, true)
	if err != nil {
		fmt.Fprintf(stderr, "healthprep enrol: %v\n", err)
		return 1
	}
	defer p.Close()
	client := c.NewDeviceServiceClient(syncagent.HTTPClient(), server)
	req := connect.NewRequest(&v1.EnrolDeviceRequest{Code: code, Name: name, Os: runtime.GOOS + "/" + runtime.GOARCH, Version: version()})
	req.Header().Set("Healthprep-Protocol-Version", fmt.Sprint(syncagent.APIProtocolVersion))
	res, err := client.EnrolDevice(ctx, req)
	if err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) {
			err = errors.New(ce.Message())
		}
		fmt.Fprintf(stderr, "healthprep enrol: %v\n", err)
		return 1
	}
	d := DeviceRecord{Server: server, DeviceID: res.Msg.GetDeviceId(), OrgID: res.Msg.GetOrgId(), Name: name}
	if err := p.keys.Set(tokenKey(d.DeviceID), []byte(res.Msg.GetDeviceToken())); err != nil {
		fmt.Fprintf(stderr, "healthprep enrol: storing the device credentials: %v\n", err)
		return 1
	}
	if err := writeDevice(pf.Dir, d); err != nil {
		fmt.Fprintf(stderr, "healthprep enrol: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "enrol: this workstation is enrolled as %q (device %s)\n", name, d.DeviceID)
	return 0
}
