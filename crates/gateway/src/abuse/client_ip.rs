//! The client's address: the socket's peer, unless the peer is a trusted proxy
//! (`LEADPIPE_TRUSTED_PROXIES`); then the right-most address in `X-Forwarded-For` that
//! is not a trusted proxy. Each proxy appends the address it received the request from,
//! so everything left of the first untrusted hop (reading from the right) was written by
//! the client and is never believed.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    /// CIDR blocks (`10.0.0.0/8`, `fd00::/8`) or single addresses, comma-separated.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "{item:?} in LEADPIPE_TRUSTED_PROXIES is not a CIDR block or an address"
                    )
                })?;
            nets.push(net);
        }
        Ok(Self(nets))
    }
}

impl TrustedProxies {
    /// How many blocks are trusted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` carrying these `X-Forwarded-For` values (in
    /// the order the headers came; each a comma-separated list).
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                // Garbage where a trusted proxy should have written an address: stop at
                // the last address a trusted hop vouched for.
                None => return client,
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop.parse::<IpAddr>().ok().or_else(|| {
        if let Some(rest) = hop.strip_prefix('[') {
            rest.split_once(']')?.0.parse().ok()
        } else {
            hop.rsplit_once(':')?.0.parse().ok()
        }
    })?;
    Some(canonical(ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The part of an address that identifies a client for rate limiting: an IPv4 address,
/// or an IPv6 /64 (one subscriber usually holds a whole /64).
pub fn limit_key(ip: IpAddr) -> [u8; 9] {
    let mut key = [0u8; 9];
    match ip {
        IpAddr::V4(v4) => key[1..5].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => {
            key[0] = 6;
            key[1..9].copy_from_slice(&v6.octets()[..8]);
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        list.join(",").parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), ["1.1.1.1"].into_iter()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_whatever_the_client_wrote() {
        let lb = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.1.2.3");
        // An honest chain: client, then an inner proxy.
        assert_eq!(
            lb.client_ip(peer, ["198.51.100.7, 10.9.9.9"].into_iter()),
            ip("198.51.100.7")
        );
        // A spoofer prepends addresses of its choice: still its own address is taken.
        assert_eq!(
            lb.client_ip(peer, ["1.2.3.4, 10.0.0.1, 198.51.100.7"].into_iter()),
            ip("198.51.100.7")
        );
        // Several headers read as one list, in order.
        assert_eq!(
            lb.client_ip(peer, ["6.6.6.6", "198.51.100.7"].into_iter()),
            ip("198.51.100.7")
        );
        // Ports and brackets, IPv4-mapped IPv6.
        assert_eq!(
            lb.client_ip(peer, ["198.51.100.7:5555"].into_iter()),
            ip("198.51.100.7")
        );
        assert_eq!(
            lb.client_ip(peer, ["[2001:db8::1]:443"].into_iter()),
            ip("2001:db8::1")
        );
        assert_eq!(
            lb.client_ip(peer, ["::ffff:198.51.100.7"].into_iter()),
            ip("198.51.100.7")
        );
        // No header, or only trusted hops: the left-most trusted address.
        assert_eq!(lb.client_ip(peer, std::iter::empty()), peer);
        assert_eq!(lb.client_ip(peer, ["10.7.7.7"].into_iter()), ip("10.7.7.7"));
        // Garbage right of any real address: nothing left of it is believed.
        assert_eq!(lb.client_ip(peer, ["1.2.3.4, not-an-ip"].into_iter()), peer);
        assert_eq!(
            lb.client_ip(peer, ["1.2.3.4, unknown, 10.0.0.5"].into_iter()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_forward_for_anyone() {
        let lb = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        assert_eq!(
            lb.client_ip(ip("203.0.113.9"), ["10.0.0.1"].into_iter()),
            ip("203.0.113.9")
        );
        assert_eq!(
            lb.client_ip(ip("192.0.2.1"), ["203.0.113.5"].into_iter()),
            ip("203.0.113.5")
        );
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("10.0.0.0/8, example.com".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_ne!(limit_key(ip("1.2.3.4")), limit_key(ip("1.2.3.5")));
    }
}
