//! The browser bundle must stay free of server-only crates: if any of these shows up in
//! the wasm dependency tree, a feature gate broke and the bundle would bloat or fail.

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "mio",
    "sea-orm",
    "sqlx",
    "reqwest",
    "fred",
    "argon2",
    "jsonwebtoken",
    // Templates run on the server only: the editor's preview asks for them.
    "minijinja",
];

#[test]
fn wasm_dependency_tree_has_no_server_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "tree",
            "-p",
            "promptlab-frontend",
            "--target",
            "wasm32-unknown-unknown",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"leptos"),
        "the tree was read: {}",
        names.len()
    );
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| names.contains(f)).collect();
    assert!(
        found.is_empty(),
        "server-only crates in the wasm bundle: {found:?}"
    );
}
