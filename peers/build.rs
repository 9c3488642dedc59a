//! Builds libzmq 4.3.5 from the `zeromq-src` crate (draft API, CURVE with
//! the system's libsodium), then, as executables linked to it: libzmq's
//! own perf tools from the same sources and this crate's C peers.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let sodium = libsodium();
    zeromq_src::Build::new()
        .enable_draft(true)
        .with_libsodium(Some(zeromq_src::LibLocation::new(&sodium.0, &sodium.1)))
        .build();
    let libzmq = out.join("lib").join("libzmq.a");
    let include = out.join("source").join("include");
    assert!(libzmq.is_file(), "zeromq-src built no {}", libzmq.display());

    let perf = zeromq_src_dir().join("vendor").join("perf");
    for tool in ["local_thr", "remote_thr", "local_lat", "remote_lat"] {
        let exe = out.join(tool);
        link(
            true,
            &perf.join(format!("{tool}.cpp")),
            &exe,
            &include,
            &libzmq,
            &sodium.0,
        );
        println!(
            "cargo:rustc-env=WEIRMQ_LIBZMQ_{}={}",
            tool.to_uppercase(),
            exe.display()
        );
    }
    let peer = out.join("draft_peer");
    let peer_src = Path::new("c").join("draft_peer.c");
    println!("cargo:rerun-if-changed={}", peer_src.display());
    link(false, &peer_src, &peer, &include, &libzmq, &sodium.0);
    println!(
        "cargo:rustc-env=WEIRMQ_LIBZMQ_DRAFT_PEER={}",
        peer.display()
    );

    // The perf tools' built-in CURVE keys, for a weirmq side facing them.
    let keys = [
        ("local_thr", "server_prvkey", "SERVER_SECRET"),
        ("remote_thr", "server_pubkey", "SERVER_PUBLIC"),
        ("remote_thr", "client_prvkey", "CLIENT_SECRET"),
        ("remote_thr", "client_pubkey", "CLIENT_PUBLIC"),
    ];
    for (tool, name, var) in keys {
        let source =
            std::fs::read_to_string(perf.join(format!("{tool}.cpp"))).expect("perf tool source");
        println!(
            "cargo:rustc-env=WEIRMQ_LIBZMQ_PERF_{var}={}",
            key(&source, name)
        );
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Where libsodium's library and `sodium.h` are (Debian's libsodium-dev,
/// which `scripts/install-libzmq` installs).
fn libsodium() -> (PathBuf, PathBuf) {
    let lib = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|d| d.join("libsodium.a").is_file());
    let include = PathBuf::from("/usr/include");
    match lib {
        Some(lib) if include.join("sodium.h").is_file() => (lib, include),
        _ => panic!(
            "libsodium-dev is missing (libsodium.a and sodium.h): \
             scripts/install-libzmq installs it"
        ),
    }
}

/// The `zeromq-src` crate's own directory, which holds the perf tools
/// (its build helper copies only `src`, `include` and `external`).
fn zeromq_src_dir() -> PathBuf {
    let cargo = env::var("CARGO").expect("CARGO");
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let target = env::var("TARGET").expect("TARGET");
    // Offline first: the build has fetched what this platform needs. A
    // fresh machine may lack the manifests of other platforms' crates,
    // which `cargo metadata` may still want: then it may download them.
    let metadata = |offline: bool| {
        let mut command = Command::new(&cargo);
        command
            .args(["metadata", "--format-version", "1", "--locked"])
            .args(["--filter-platform", &target])
            .current_dir(&manifest);
        if offline {
            command.arg("--offline");
        }
        command.output().expect("cargo metadata")
    };
    let mut output = metadata(true);
    if !output.status.success() {
        output = metadata(false);
    }
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let manifest_path = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "zeromq-src" && p["version"] == "0.3.6+4.3.5")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("zeromq-src 0.3.6+4.3.5 in the dependency graph");
    Path::new(manifest_path)
        .parent()
        .expect("a crate directory")
        .to_path_buf()
}

/// Compiles one program (C++ or C) at -O3 and links it to the static
/// libzmq, as libzmq's own build links its perf tools.
fn link(cpp: bool, source: &Path, exe: &Path, include: &Path, libzmq: &Path, sodium: &Path) {
    let compiler = cc::Build::new()
        .cpp(cpp)
        .opt_level(3)
        .debug(false)
        .get_compiler();
    let mut command = compiler.to_command();
    command
        .arg("-DZMQ_BUILD_DRAFT_API=1")
        .arg("-I")
        .arg(include)
        .arg(source)
        .arg("-o")
        .arg(exe)
        .arg(libzmq)
        .arg("-L")
        .arg(sodium)
        .args(["-l:libsodium.a", "-lpthread"]);
    if !cpp {
        command.arg("-lstdc++");
    }
    let status = command.status().expect("the C/C++ compiler");
    assert!(status.success(), "compiling {} failed", source.display());
}

/// The value of `const char NAME[] = "...";` in a perf tool's source.
fn key(source: &str, name: &str) -> String {
    let line = source
        .lines()
        .find(|l| l.contains(&format!("{name}[]")))
        .unwrap_or_else(|| panic!("no {name} in the perf tool"));
    let start = line.find('"').expect("a string") + 1;
    let end = line.rfind('"').expect("a string");
    line[start..end].to_owned()
}
