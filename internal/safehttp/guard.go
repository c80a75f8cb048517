package safehttp

import (
	"fmt"
	"net/netip"
	"syscall"
)

// BlockedError is returned (wrapped in the client's *url.Error) when the
// address a request would connect to is not a public unicast address and
// the allow-list does not cover it.
type BlockedError struct {
	// Addr is the IP address that was refused.
	Addr string
	// Reason says what kind of address it is, e.g. "link-local address".
	Reason string
}

// Error says what was refused and how to permit it.
func (e *BlockedError) Error() string {
	return fmt.Sprintf("refusing to connect to %s: %s (set allow-list to permit)", e.Addr, e.Reason)
}

// specialRange is an address block that is not globally reachable unicast
// (IANA special-purpose registries, RFC 6890 and later).
type specialRange struct {
	prefix netip.Prefix
	reason string
}

// specialRanges are refused unless allowed. More specific blocks come before
// the blocks that contain them.
var specialRanges = []specialRange{
	// IPv4
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},
	// IPv6
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "discard-only address"},
	{netip.MustParsePrefix("2001::/32"), "Teredo address"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking address"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignment"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "documentation address"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing address"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (private) address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

// Prefixes that embed an IPv4 address: the embedded address must be public.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// refusal returns why a is not a public unicast address, or "" when it is.
func refusal(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			return r.reason
		}
	}
	b := a.As16()
	switch {
	case nat64Prefix.Contains(a):
		return embedded("NAT64", netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return embedded("6to4", netip.AddrFrom4([4]byte(b[2:6])))
	}
	return ""
}

// embedded explains a refused IPv4 address inside an IPv6 one.
func embedded(kind string, v4 netip.Addr) string {
	if why := refusal(v4); why != "" {
		return fmt.Sprintf("%s address embedding %s, a %s", kind, v4, why)
	}
	return ""
}

// guard decides which addresses a dialer may connect to.
type guard struct {
	allow []netip.Prefix
}

// check returns a *BlockedError unless a is public or allowed.
func (g guard) check(a netip.Addr) error {
	plain := a.WithZone("")
	for _, p := range g.allow {
		if p.Contains(plain) || p.Contains(plain.Unmap()) {
			return nil
		}
	}
	if why := refusal(a); why != "" {
		return &BlockedError{Addr: a.Unmap().String(), Reason: why}
	}
	return nil
}

// control is a net.Dialer Control function. It runs after name resolution,
// for every address actually dialled (each redirect, each DNS answer), so
// DNS rebinding cannot slip a private address past it.
func (g guard) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("safehttp: refusing %s connection to %s", network, address)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("safehttp: unexpected dial address %q: %w", address, err)
	}
	return g.check(ap.Addr())
}
