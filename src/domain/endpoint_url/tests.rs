//! Unit tests of the endpoint URL rules and the address policy.

use super::*;

fn forbidden(s: &str) -> bool {
    is_forbidden_ip(s.parse().unwrap())
}

#[test]
fn forbidden_ipv4() {
    for ip in [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
    ] {
        assert!(forbidden(ip), "{ip}");
    }
}

#[test]
fn public_ipv4() {
    for ip in [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "93.184.216.34",
    ] {
        assert!(!forbidden(ip), "{ip}");
    }
}

#[test]
fn forbidden_ipv6() {
    for ip in [
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "fc00::1",
        "fd12:3456::1",
        "fd00:ec2::254",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2001::1",
        "2001:2::1",
        "3fff::1",
        "100::1",
    ] {
        assert!(forbidden(ip), "{ip}");
    }
}

#[test]
fn public_ipv6() {
    for ip in [
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2a00:1450:4001::1",
    ] {
        assert!(!forbidden(ip), "{ip}");
    }
}

#[test]
fn accepts_good_urls() {
    for s in [
        "https://example.com/webhooks",
        "https://example.com:8443/a/b?c=d&e=f",
        "https://93.184.216.34/hook",
        "https://[2606:4700:4700::1111]/hook",
        "https://xn--bcher-kva.example/hook",
        "https://bücher.example/hook",
    ] {
        let u = EndpointUrl::parse(s, false).unwrap();
        assert_eq!(u.url().scheme(), "https");
        assert_eq!(u.to_string(), u.as_str());
    }
    assert_eq!(
        EndpointUrl::parse("https://bücher.example/hook", false)
            .unwrap()
            .as_str(),
        "https://xn--bcher-kva.example/hook"
    );
}

#[test]
fn scheme_rules() {
    assert_eq!(
        EndpointUrl::parse("http://example.com", false).unwrap_err(),
        EndpointUrlError::InsecureScheme
    );
    assert!(EndpointUrl::parse("http://example.com", true).is_ok());
    for s in [
        "ftp://example.com",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ] {
        assert!(
            matches!(
                EndpointUrl::parse(s, true).unwrap_err(),
                EndpointUrlError::UnsupportedScheme { .. }
            ),
            "{s}"
        );
    }
    let msg = EndpointUrlError::InsecureScheme.to_string();
    assert!(msg.contains("https://") && msg.contains("--dev"));
}

#[test]
fn rejects_ugly_urls() {
    use EndpointUrlError::*;
    assert_eq!(EndpointUrl::parse("", false).unwrap_err(), Empty);
    let huge = format!("https://example.com/{}", "a".repeat(3000));
    assert!(matches!(
        EndpointUrl::parse(&huge, false).unwrap_err(),
        TooLong { len: 3020 }
    ));
    let unicode = format!("https://example.com/{}", "é".repeat(400));
    assert_eq!(
        EndpointUrl::parse(&unicode, false).unwrap_err(),
        TooLong { len: 2420 }
    );
    for s in [
        " https://example.com",
        "https://example.com ",
        "https://exa\nmple.com",
        "https://example.com/\t",
        "https://example.com/\u{0}",
        "https://example.com/a b",
    ] {
        assert!(
            matches!(EndpointUrl::parse(s, true).unwrap_err(), InvalidChar { .. }),
            "{s:?}"
        );
    }
    for s in [
        "example.com",
        "https://",
        "//example.com",
        "https://exa mple",
        "😀",
    ] {
        assert!(EndpointUrl::parse(s, true).is_err(), "{s:?}");
    }
    assert!(matches!(
        EndpointUrl::parse("example.com/hook", false).unwrap_err(),
        Invalid { .. }
    ));
    assert_eq!(
        EndpointUrl::parse("https://user:pw@example.com", true).unwrap_err(),
        Credentials
    );
    assert_eq!(
        EndpointUrl::parse("https://user@example.com", true).unwrap_err(),
        Credentials
    );
    assert_eq!(
        EndpointUrl::parse("https://example.com/#frag", true).unwrap_err(),
        Fragment
    );
    assert_eq!(
        EndpointUrl::parse("https://example.com/#", true).unwrap_err(),
        Fragment
    );
}

#[test]
fn refuses_local_targets_unless_insecure() {
    for s in [
        "https://127.0.0.1/hook",
        "https://2130706433/hook", // decimal form of 127.0.0.1
        "https://0x7f.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/",
        "https://10.1.2.3:8080/",
        "https://0.0.0.0/",
    ] {
        assert!(
            matches!(
                EndpointUrl::parse(s, false).unwrap_err(),
                EndpointUrlError::ForbiddenAddress { .. }
            ),
            "{s}"
        );
        assert!(EndpointUrl::parse(s, true).is_ok(), "{s}");
    }
    for s in [
        "https://localhost/",
        "https://LOCALHOST:3000/",
        "https://localhost./",
        "https://api.localhost/",
    ] {
        assert!(
            matches!(
                EndpointUrl::parse(s, false).unwrap_err(),
                EndpointUrlError::LocalHost { .. }
            ),
            "{s}"
        );
        assert!(EndpointUrl::parse(s, true).is_ok(), "{s}");
    }
    assert!(EndpointUrl::parse("https://localhost.example.com/", false).is_ok());
    assert!(EndpointUrl::parse("https://notlocalhost/", false).is_ok());
}

#[test]
fn allowed_networks_open_private_targets_but_not_http() {
    let policy = TargetPolicy {
        dev: false,
        allowed_networks: vec![
            "10.20.0.0/16".parse().unwrap(),
            "127.0.0.0/8".parse().unwrap(),
        ],
    };
    for ok in [
        "https://10.20.3.4/hooks",
        "https://127.0.0.1:8443/hooks",
        "https://localhost/hooks",
        "https://internal.example.com/hooks",
    ] {
        assert!(EndpointUrl::parse_for(ok, &policy).is_ok(), "{ok}");
    }
    assert_eq!(
        EndpointUrl::parse_for("https://10.21.0.1/hooks", &policy),
        Err(EndpointUrlError::ForbiddenAddress {
            ip: "10.21.0.1".parse().unwrap()
        })
    );
    assert_eq!(
        EndpointUrl::parse_for("https://[::1]/hooks", &policy),
        Err(EndpointUrlError::ForbiddenAddress {
            ip: "::1".parse().unwrap()
        })
    );
    assert_eq!(
        EndpointUrl::parse_for("http://10.20.3.4/hooks", &policy),
        Err(EndpointUrlError::InsecureScheme)
    );
    // Without loopback in the list, localhost stays refused.
    let internal_only = TargetPolicy {
        dev: false,
        allowed_networks: vec!["10.20.0.0/16".parse().unwrap()],
    };
    assert!(matches!(
        EndpointUrl::parse_for("https://localhost/hooks", &internal_only),
        Err(EndpointUrlError::LocalHost { .. })
    ));
}
