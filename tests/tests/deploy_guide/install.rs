//! `scripts/install.sh --prefix DIR` installs what the guide says it does,
//! and the installed units pass `systemd-analyze verify`.

use std::path::Path;

use crate::support::{install, BINARIES, UNITS};
use crate::systemd::Service;

#[test]
fn install_puts_binaries_units_and_settings_where_the_guide_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = install(&dir.path().join("prefix"));
    for b in BINARIES {
        let bin = tree.bin_dir.join(b);
        let mode = std::fs::metadata(&bin)
            .unwrap_or_else(|e| panic!("{} installed: {e}", bin.display()))
            .permissions();
        assert!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o111 != 0,
            "{} is executable",
            bin.display()
        );
    }
    for path in [
        "etc/tugboat/tugboat.env",
        "etc/tugboat/tugboat.env.example",
        "etc/sysctl.d/90-tugboat.conf",
        "etc/modules-load.d/tugboat.conf",
        "share/doc/tugboat/deploy/README.md",
    ] {
        assert!(tree.prefix.join(path).is_file(), "{path} installed");
    }
    // The installed units run the installed binaries with the installed
    // settings, and keep the properties the guide relies on.
    for unit in UNITS {
        let service = Service::load(&tree.unit(unit));
        let program = Path::new(&service.exec_start[0]);
        assert_eq!(program, tree.bin_dir.join(unit), "{unit} runs its binary");
        assert_eq!(service.environment_files, [tree.env_file()], "{unit}");
        assert_eq!(service.get("Restart"), Some("always"), "{unit}");
    }
    let kubelet = Service::load(&tree.unit("tug-kubelet"));
    assert_eq!(
        kubelet.get("KillMode"),
        Some("process"),
        "a kubelet restart leaves the container shims running"
    );
    assert_eq!(kubelet.get("Delegate"), Some("yes"));

    // A second run keeps the edited settings.
    std::fs::write(tree.env_file(), "NODE_NAME=edited\n").expect("edit the settings");
    install(&tree.prefix);
    assert_eq!(
        std::fs::read_to_string(tree.env_file()).unwrap(),
        "NODE_NAME=edited\n"
    );
}

#[test]
fn the_installed_units_pass_systemd_analyze_verify() {
    if !crate::support::on_path("systemd-analyze") {
        eprintln!("SKIP the_installed_units_pass_systemd_analyze_verify: systemd-analyze is not installed (apt-get install systemd)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = install(&dir.path().join("prefix"));
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(UNITS.iter().map(|u| tree.unit(u)))
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Any complaint (an unknown key, a setting in the wrong section)
    // counts, though systemd only warns about most of them.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
