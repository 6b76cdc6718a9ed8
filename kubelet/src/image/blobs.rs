//! Content-addressed blobs under `<root>/blobs/sha256/<hex>`: written to a
//! temporary file while hashed, and moved into place only when the sha256
//! matches the digest they were asked for, so a blob's path is a promise
//! about its content.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::reference::valid_digest;

/// The sha256 digest of `bytes`, as `sha256:<hex>`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The hex part of a validated `sha256:` digest.
pub fn digest_hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The blob directory of one store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Blobs under `root/blobs/sha256`, temporary files under `tmp`.
    pub fn open(root: &Path, tmp: &Path) -> io::Result<BlobStore> {
        let dir = root.join("blobs").join("sha256");
        fs::create_dir_all(&dir)?;
        fs::create_dir_all(tmp)?;
        Ok(BlobStore {
            dir,
            tmp: tmp.to_path_buf(),
        })
    }

    /// Where the blob `digest` lives (whether or not it is there).
    pub fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(digest_hex(digest))
    }

    /// Whether the store holds `digest`.
    pub fn has(&self, digest: &str) -> bool {
        self.path(digest).is_file()
    }

    /// The blob's bytes (manifests and configs: small).
    pub fn read(&self, digest: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(digest))
    }

    /// Its size on disk, 0 when absent.
    pub fn size(&self, digest: &str) -> u64 {
        fs::metadata(self.path(digest))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Remove a blob; absent is fine.
    pub fn remove(&self, digest: &str) -> io::Result<()> {
        match fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every blob held, as digests.
    pub fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let digest = format!("sha256:{name}");
            if valid_digest(&digest) {
                out.push(digest);
            }
        }
        Ok(out)
    }

    /// Start writing the blob `expected`.
    pub fn writer(&self, expected: &str) -> io::Result<BlobWriter> {
        if !valid_digest(expected) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsupported digest {expected:?}"),
            ));
        }
        let tmp = self.tmp.join(format!(
            "blob-{}-{:016x}",
            &digest_hex(expected)[..12],
            rand::random::<u64>()
        ));
        let file = BufWriter::new(File::create(&tmp)?);
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            hasher: Sha256::new(),
            written: 0,
            expected: expected.to_string(),
            dest: self.path(expected),
        })
    }

    /// Store `bytes` as the blob `expected` (verified).
    pub fn put(&self, expected: &str, bytes: &[u8]) -> io::Result<()> {
        let mut w = self.writer(expected)?;
        w.write_all(bytes)?;
        w.commit()
    }

    /// Copy the file `src` in as the blob `expected` (verified).
    pub fn put_file(&self, expected: &str, src: &Path) -> io::Result<()> {
        let mut w = self.writer(expected)?;
        io::copy(&mut File::open(src)?, &mut w)?;
        w.commit()
    }
}

/// A blob being written: hashed as it goes, discarded unless
/// [`BlobWriter::commit`] finds the digest it was promised.
///
/// Writes are plain buffered file writes even on the async pull path: the
/// chunks are small and land in the page cache.
pub struct BlobWriter {
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    hasher: Sha256,
    written: u64,
    expected: String,
    dest: PathBuf,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Verify the digest and move the blob into place; on a mismatch the
    /// data is removed and nothing is kept.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("committed once");
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        let actual = format!("sha256:{:x}", self.hasher.clone().finalize());
        if actual != self.expected {
            let _ = fs::remove_file(&self.tmp);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "digest mismatch: expected {}, got {actual} ({} bytes)",
                    self.expected, self.written
                ),
            ));
        }
        fs::rename(&self.tmp, &self.dest)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.as_mut().expect("not committed").write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A reader that hashes what passes through it (layers' `diff_id`s are the
/// sha256 of the uncompressed tar).
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    /// Hash everything read from `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Read to the end and return `sha256:<hex>` of everything read.
    pub fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(format!("sha256:{:x}", self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path(), &dir.path().join("tmp")).unwrap();
        (dir, s)
    }

    #[test]
    fn a_verified_blob_lands_at_its_digest() {
        let (_d, s) = store();
        let digest = sha256_digest(b"hello");
        assert_eq!(
            digest,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        s.put(&digest, b"hello").unwrap();
        assert!(s.has(&digest));
        assert_eq!(s.read(&digest).unwrap(), b"hello");
        assert_eq!(s.list().unwrap(), vec![digest]);
    }

    #[test]
    fn a_digest_mismatch_is_an_error_and_keeps_nothing() {
        let (d, s) = store();
        let claimed = sha256_digest(b"what the manifest promised");
        let err = s.put(&claimed, b"what the registry sent").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("digest mismatch"), "{err}");
        assert!(!s.has(&claimed));
        assert!(s.list().unwrap().is_empty());
        assert_eq!(
            fs::read_dir(d.path().join("tmp")).unwrap().count(),
            0,
            "no temp file left"
        );
    }

    #[test]
    fn an_abandoned_write_leaves_no_temp_file() {
        let (d, s) = store();
        let mut w = s.writer(&sha256_digest(b"x")).unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
    }
}
