package localstore

// FastKDF lets tests use cheap Argon2id parameters; production cannot set
// them (Options.kdf is unexported).
func FastKDF(o *Options) { o.kdf = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1} }

// SetTestHookChange installs a hook that runs before each change of a page.
// It is process-wide: only the kill test's child process uses it.
func SetTestHookChange(fn func(i int)) { testHookChange = fn }

// KDF reports the parameters new password wraps use.
func (s *Store) KDF() KDFParams { return s.opts.kdf }

// DeviceKeyName is the key store entry of the profile.
func (s *Store) DeviceKeyName() string { return s.deviceKeyName() }
