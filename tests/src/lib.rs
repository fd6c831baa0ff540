//! Test harness: start real binaries, origins and parent proxies on 127.0.0.1.
