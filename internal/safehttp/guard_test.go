package safehttp

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRefusal(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"8.8.8.8":                "",
		"1.1.1.1":                "",
		"2606:4700:4700::1111":   "",
		"64:ff9b::808:808":       "", // NAT64 of 8.8.8.8
		"2002:808:808::1":        "", // 6to4 of 8.8.8.8
		"169.254.169.254":        "link-local address",
		"10.0.0.1":               "private address",
		"172.16.5.4":             "private address",
		"192.168.1.1":            "private address",
		"127.0.0.1":              "loopback address",
		"127.255.255.254":        "loopback address",
		"0.0.0.0":                "unspecified address",
		"100.64.0.1":             "shared (carrier-grade NAT) address",
		"192.0.0.170":            "IETF protocol assignment",
		"192.0.2.1":              "documentation address",
		"198.18.0.1":             "benchmarking address",
		"198.51.100.7":           "documentation address",
		"203.0.113.9":            "documentation address",
		"224.0.0.1":              "multicast address",
		"255.255.255.255":        "reserved address",
		"::":                     "unspecified address",
		"::1":                    "loopback address",
		"::ffff:169.254.169.254": "link-local address",
		"::ffff:127.0.0.1":       "loopback address",
		"::7f00:1":               "IPv4-compatible address",
		"64:ff9b::a00:1":         "NAT64 address embedding 10.0.0.1, a private address",
		"64:ff9b:1::1":           "local-use NAT64 address",
		"2002:a9fe:a9fe::1":      "6to4 address embedding 169.254.169.254, a link-local address",
		"2001::1":                "Teredo address",
		"2001:2::1":              "benchmarking address",
		"2001:db8::1":            "documentation address",
		"3fff::1":                "documentation address",
		"fd00::1":                "unique local (private) address",
		"fe80::1%eth0":           "link-local address",
		"fec0::1":                "site-local address",
		"ff02::1":                "multicast address",
		"fd00:ec2::254":          "unique local (private) address", // AWS IPv6 metadata
	}
	for addr, want := range tests {
		require.Equal(t, want, refusal(netip.MustParseAddr(addr)), addr)
	}
}

func TestGuardAllowList(t *testing.T) {
	t.Parallel()
	g := guard{allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fe80::/10")}}
	require.NoError(t, g.check(netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, g.check(netip.MustParseAddr("::ffff:127.0.0.1")), "mapped form of an allowed address")
	require.NoError(t, g.check(netip.MustParseAddr("fe80::1%eth0")), "zoned address in an allowed block")
	require.NoError(t, g.check(netip.MustParseAddr("8.8.8.8")))
	err := g.check(netip.MustParseAddr("127.0.0.2"))
	require.EqualError(t, err, "refusing to connect to 127.0.0.2: loopback address (set allow-list to permit)")

	require.Error(t, g.control("udp4", "8.8.8.8:53", nil))
	require.Error(t, g.control("tcp4", "not-an-address", nil))
	require.NoError(t, g.control("tcp4", "8.8.8.8:443", nil))
}
