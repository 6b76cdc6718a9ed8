//! The node's image store against a real registry (Debian's
//! `docker-registry` on a loopback port) and real OCI archives built from
//! the static busybox: pulls by tag and digest, the registry's reason for a
//! wrong tag, racing pulls fetched once, the index surviving a restart,
//! offline import, image indexes, whiteouts, and garbage collection.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tug_kubelet::image::{get_xattr, ImageStore, PullPolicy, StoreConfig};
use tug_tests::images::{
    build_busybox_image, busybox_layer, name_layout, wrap_in_image_index, write_layout,
    write_oci_archive, ImageSpec, LayerBuilder,
};
use tug_tests::registry::{registry_available, LocalRegistry};

fn prerequisites() -> bool {
    if !registry_available() {
        eprintln!("SKIP: /usr/bin/docker-registry not installed (apt-get install docker-registry)");
        return false;
    }
    if !tug_tests::images::busybox_available() {
        eprintln!("SKIP: /bin/busybox not installed (apt-get install busybox-static)");
        return false;
    }
    true
}

fn open(root: &Path, registry: &LocalRegistry) -> ImageStore {
    ImageStore::open(StoreConfig {
        root: root.to_path_buf(),
        insecure_registries: vec![registry.host.clone()],
    })
    .unwrap()
}

fn spec(cmd: &[&str]) -> ImageSpec {
    ImageSpec {
        entrypoint: vec![],
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
    }
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_by_tag_and_digest_and_reports_the_registrys_reason() {
    if !prerequisites() {
        return;
    }
    let reg = LocalRegistry::start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let img = build_busybox_image(&work.path().join("layout"), spec(&["sh"])).unwrap();
    let digest = reg.push(&img.dir, "test/busybox:v1").await.unwrap();
    assert_eq!(digest, img.manifest_digest);
    let host = &reg.host;

    // By tag.
    let root = work.path().join("store");
    let store = open(&root, &reg);
    let by_tag = store
        .ensure(&format!("{host}/test/busybox:v1"), PullPolicy::IfNotPresent)
        .await
        .unwrap();
    assert_eq!(by_tag.reference, format!("{host}/test/busybox:v1"));
    assert_eq!(by_tag.image_id, format!("{host}/test/busybox@{digest}"));
    assert_eq!(by_tag.config.cmd, ["sh"]);
    assert_eq!(by_tag.config.env, ["PATH=/bin"]);
    assert_eq!(by_tag.layers.len(), 1);
    let layer = &by_tag.layers[0];
    assert!(layer.starts_with(root.join("layers")));
    assert!(
        !layer.to_string_lossy().contains(':'),
        "usable in lowerdir="
    );
    assert!(layer.join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(layer.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(fs::read_to_string(layer.join("etc/passwd"))
        .unwrap()
        .contains(":65534:"));
    let hex = img.layer_digests[0].trim_start_matches("sha256:");
    assert!(root.join("blobs/sha256").join(hex).is_file());
    assert_eq!(store.stats().manifests_fetched, 1);

    // Held now: IfNotPresent and Never don't go to the registry.
    store
        .ensure(&format!("{host}/test/busybox:v1"), PullPolicy::Never)
        .await
        .unwrap();
    assert_eq!(store.stats().manifests_fetched, 1);

    // By digest, in a fresh store.
    let store2 = open(&work.path().join("store2"), &reg);
    let by_digest = store2
        .ensure(
            &format!("{host}/test/busybox@{digest}"),
            PullPolicy::IfNotPresent,
        )
        .await
        .unwrap();
    assert_eq!(by_digest.image_id, by_tag.image_id);
    assert_eq!(by_digest.config, by_tag.config);

    // A wrong tag: ErrImagePull with the registry's reason.
    let err = store
        .ensure(
            &format!("{host}/test/busybox:nope"),
            PullPolicy::IfNotPresent,
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason, "ErrImagePull");
    assert!(err.message.contains("MANIFEST_UNKNOWN"), "{}", err.message);
    assert!(err.message.contains("manifest unknown"), "{}", err.message);
    assert!(err.message.contains("test/busybox:nope"), "{}", err.message);

    // A repository the registry does not have.
    let err = store
        .ensure(&format!("{host}/test/absent:1"), PullPolicy::Always)
        .await
        .unwrap_err();
    assert_eq!(err.reason, "ErrImagePull");
    assert!(err.message.contains("404"), "{}", err.message);

    // Never, absent.
    let err = store
        .ensure(&format!("{host}/test/other:1"), PullPolicy::Never)
        .await
        .unwrap_err();
    assert_eq!(err.reason, "ErrImageNeverPull");
    assert_eq!(
        err.message,
        format!("Container image \"{host}/test/other:1\" is not present with pull policy of Never")
    );

    // Not a reference at all.
    let err = store
        .ensure("Not/A:Ref:", PullPolicy::Always)
        .await
        .unwrap_err();
    assert_eq!(err.reason, "InvalidImageName");

    // The index survives a restart: a new store on the same root has it.
    drop(store);
    let reopened = open(&root, &reg);
    let again = reopened
        .ensure(&format!("{host}/test/busybox:v1"), PullPolicy::Never)
        .await
        .unwrap();
    assert_eq!(again, by_tag);
    let names: Vec<String> = reopened.list().into_iter().flat_map(|s| s.names).collect();
    assert!(
        names.contains(&format!("{host}/test/busybox:v1")),
        "{names:?}"
    );
    assert!(
        names.contains(&format!("{host}/test/busybox@{digest}")),
        "{names:?}"
    );
    let scratch: Vec<PathBuf> = fs::read_dir(root.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        scratch.len(),
        1,
        "only the open store's scratch dir: {scratch:?}"
    );
    assert_eq!(count(&scratch[0]), 0, "and nothing left in it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_ensures_pull_once() {
    if !prerequisites() {
        return;
    }
    let reg = LocalRegistry::start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let img = build_busybox_image(&work.path().join("layout"), spec(&["sh"])).unwrap();
    reg.push(&img.dir, "race/bb:1").await.unwrap();
    let reference = format!("{}/race/bb:1", reg.host);

    let store = open(&work.path().join("store"), &reg);
    let (a, b) = tokio::join!(
        store.ensure(&reference, PullPolicy::IfNotPresent),
        store.ensure(&reference, PullPolicy::IfNotPresent)
    );
    assert_eq!(a.unwrap(), b.unwrap());
    let stats = store.stats();
    assert_eq!(stats.manifests_fetched, 1, "{stats:?}");
    assert_eq!(stats.blobs_fetched, 2, "config and one layer: {stats:?}");

    // Always checks the manifest again, but blobs already held are not
    // fetched again. (Racing Always pulls share one check when they
    // overlap; whether two calls overlap is up to the scheduler, so only
    // the bound is asserted.)
    let (a, b) = tokio::join!(
        store.ensure(&reference, PullPolicy::Always),
        store.ensure(&reference, PullPolicy::Always)
    );
    assert_eq!(a.unwrap(), b.unwrap());
    let stats = store.stats();
    assert!((2..=3).contains(&stats.manifests_fetched), "{stats:?}");
    assert_eq!(stats.blobs_fetched, 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_index_resolves_to_this_nodes_platform() {
    if !prerequisites() {
        return;
    }
    let reg = LocalRegistry::start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let img = build_busybox_image(&work.path().join("layout"), spec(&["echo", "hi"])).unwrap();
    let index_digest = wrap_in_image_index(&img.dir).unwrap();
    let pushed = reg.push(&img.dir, "multi/bb:1").await.unwrap();
    assert_eq!(pushed, index_digest);
    let store = open(&work.path().join("store"), &reg);
    let got = store
        .ensure(&format!("{}/multi/bb:1", reg.host), PullPolicy::Always)
        .await
        .unwrap();
    assert_eq!(
        got.image_id,
        format!("{}/multi/bb@{index_digest}", reg.host)
    );
    assert_eq!(got.config.cmd, ["echo", "hi"]);
    assert!(got.layers[0].join("bin/busybox").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oci_archive_is_imported_offline_sharing_layers() {
    if !prerequisites() {
        return;
    }
    let reg = LocalRegistry::start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("store");
    let store = open(&root, &reg);

    // First an image from the registry...
    let pulled = build_busybox_image(&work.path().join("a"), spec(&["sh"])).unwrap();
    reg.push(&pulled.dir, "shared/bb:1").await.unwrap();
    store
        .ensure(
            &format!("{}/shared/bb:1", reg.host),
            PullPolicy::IfNotPresent,
        )
        .await
        .unwrap();

    // ...then one with the same layer from an archive, no registry involved.
    let offline = build_busybox_image(&work.path().join("b"), spec(&["sleep", "1"])).unwrap();
    assert_eq!(offline.layer_digests, pulled.layer_digests);
    name_layout(&offline.dir, "offline/bb:2").unwrap();
    let archive = work.path().join("bb.tar");
    write_oci_archive(&offline.dir, &archive).unwrap();
    let fetched_before = store.stats();
    let imported = store.import_archive(&archive).await.unwrap();
    assert_eq!(imported, ["docker.io/offline/bb:2"]);
    assert_eq!(
        store.stats(),
        fetched_before,
        "an import never talks to a registry"
    );
    let got = store
        .ensure("offline/bb:2", PullPolicy::Never)
        .await
        .unwrap();
    assert_eq!(got.config.cmd, ["sleep", "1"]);
    assert_eq!(
        got.image_id,
        format!("docker.io/offline/bb@{}", offline.manifest_digest)
    );
    assert_eq!(
        count(&root.join("layers")),
        1,
        "the shared layer is unpacked once"
    );

    // An archive naming nothing is refused.
    let unnamed = build_busybox_image(&work.path().join("c"), spec(&["true"])).unwrap();
    let archive = work.path().join("unnamed.tar");
    write_oci_archive(&unnamed.dir, &archive).unwrap();
    let err = store.import_archive(&archive).await.unwrap_err();
    assert!(format!("{err:#}").contains("names no image"), "{err:#}");

    // Garbage collection: everything unused goes, shared layers stay while used.
    let in_use: HashSet<String> = ["offline/bb:2".to_string()].into();
    let removed = store
        .garbage_collect_with(&in_use, 0, 0, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(removed, [format!("{}/shared/bb:1", reg.host)]);
    let names: Vec<String> = store.list().into_iter().flat_map(|s| s.names).collect();
    assert_eq!(
        names,
        [
            "docker.io/offline/bb:2".to_string(),
            format!("docker.io/offline/bb@{}", offline.manifest_digest)
        ]
    );
    assert!(
        got.layers[0].join("bin/busybox").is_file(),
        "the used image's layer stays"
    );
    let pulled_manifest = pulled.manifest_digest.trim_start_matches("sha256:");
    assert!(!root.join("blobs/sha256").join(pulled_manifest).exists());
    let removed = store
        .garbage_collect_with(&HashSet::new(), 0, 0, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(removed, ["docker.io/offline/bb:2"]);
    assert_eq!(count(&root.join("layers")), 0);
    assert_eq!(count(&root.join("blobs/sha256")), 0);
    // Below the high threshold nothing is collected.
    let none = store
        .garbage_collect(&HashSet::new(), 100, 90)
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// An overlayfs mount of lower layers, unmounted on drop.
struct Overlay(PathBuf);

impl Overlay {
    fn mount(layers_bottom_first: &[PathBuf], target: &Path) -> Overlay {
        fs::create_dir_all(target).unwrap();
        let lower: Vec<String> = layers_bottom_first
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        let status = std::process::Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!("ro,lowerdir={}", lower.join(":")))
            .arg(target)
            .status()
            .unwrap();
        assert!(status.success(), "mounting overlay on {}", target.display());
        Overlay(target.to_path_buf())
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whiteouts_hide_lower_files_in_the_overlay() {
    if !prerequisites() {
        return;
    }
    if !tug_tests::prereq::is_root() {
        eprintln!("SKIP: whiteouts need root (mknod, trusted.* xattrs, mount)");
        return;
    }
    let reg = LocalRegistry::start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let data = LayerBuilder::new()
        .dir("data", 0o755)
        .unwrap()
        .file("data/a", b"a", 0o644)
        .unwrap()
        .file("data/b", b"b", 0o644)
        .unwrap()
        .file_owned("home/nobody/f", b"f", 0o600, 65534, 65534)
        .unwrap()
        .finish()
        .unwrap();
    let upper = LayerBuilder::new()
        .whiteout("bin/cat")
        .unwrap()
        .opaque("data")
        .unwrap()
        .file("data/c", b"c", 0o644)
        .unwrap()
        .hardlink("data/c2", "data/c")
        .unwrap()
        .finish()
        .unwrap();
    let layout = work.path().join("layout");
    write_layout(
        &layout,
        &[busybox_layer().unwrap(), data, upper],
        &spec(&["sh"]),
    )
    .unwrap();
    reg.push(&layout, "wh/bb:1").await.unwrap();
    let store = open(&work.path().join("store"), &reg);
    let img = store
        .ensure(&format!("{}/wh/bb:1", reg.host), PullPolicy::IfNotPresent)
        .await
        .unwrap();
    assert_eq!(img.layers.len(), 3);
    let top = &img.layers[2];
    let wh = fs::symlink_metadata(top.join("bin/cat")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        get_xattr(&top.join("data"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    let owned = fs::metadata(img.layers[1].join("home/nobody/f")).unwrap();
    assert_eq!(
        (owned.uid(), owned.gid(), owned.mode() & 0o777),
        (65534, 65534, 0o600)
    );
    assert_eq!(
        fs::metadata(top.join("data/c")).unwrap().ino(),
        fs::metadata(top.join("data/c2")).unwrap().ino()
    );

    let rootfs = work.path().join("rootfs");
    let overlay = Overlay::mount(&img.layers, &rootfs);
    assert!(rootfs.join("bin/sh").exists());
    assert!(!rootfs.join("bin/cat").exists(), "whited out");
    let mut listed: Vec<String> = fs::read_dir(rootfs.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["c", "c2"], "the opaque dir hides a and b");
    drop(overlay);
}
