import DepotTestSupport
import Foundation
import Testing

/// Depot as its users install everything else: `Scripts/build-deb.sh` makes a `.deb` that
/// lintian passes (but for the overrides it carries, each explained), whose systemd unit
/// `systemd-analyze verify` passes, and that installs, runs and is removed cleanly in a
/// Debian 12 chroot made with mmdebstrap from Debian's packages.
@Suite(.serialized) struct DebianPackageTests {
    /// Where chroot tarballs are kept between runs (made again when missing).
    static let cache = URL(fileURLWithPath: "/var/cache/depot-tests")

    /// The package, built by the script in debug mode (incremental after the first time).
    static func buildPackage(into folder: URL) throws -> String {
        let build = try TestSupport.run(
            TestSupport.packageRoot.path + "/Scripts/build-deb.sh", ["--debug", "--output", folder.path])
        guard build.status == 0, let path = build.text.split(separator: "\n").last.map(String.init) else {
            throw TestSupportError("Scripts/build-deb.sh failed: \(build.standardError.suffix(2000))")
        }
        return path
    }

    @Test func thePackageIsLintianCleanAndItsUnitVerifies() throws {
        let scratch = try TestSupport.makeTemporaryDirectory("deb")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let deb = try Self.buildPackage(into: scratch)
        #expect(deb.hasSuffix(".deb") && (deb as NSString).lastPathComponent.hasPrefix("depot_"))
        guard TestSupport.hasProgram("lintian") else {
            throw TestSupportError("lintian is missing: Scripts/install-dependencies.sh --tests installs it")
        }
        let lint = try TestSupport.run("lintian", ["--fail-on", "error,warning", "--tag-display-limit", "0", deb])
        #expect(lint.status == 0, "\(lint.text)\(lint.standardError)")

        let contents = try TestSupport.run("dpkg-deb", ["--contents", deb]).text
        for path in [
            "./usr/bin/depot", "./usr/share/man/man1/depot.1.gz", "./usr/share/man/man5/depot.conf.5.gz",
            "./lib/systemd/system/depot.service", "./etc/default/depot", "./usr/share/doc/depot/copyright",
        ] {
            #expect(contents.contains(path), "\(path) is not in the package")
        }
        #expect(!contents.contains("depot-bench"))

        // The unit as installed: its ExecStart found in the unpacked package (the chroot test
        // verifies it again with systemd's own units and the manual pages in place).
        let root = scratch.appendingPathComponent("root")
        try #require(try TestSupport.run("dpkg-deb", ["-x", deb, root.path]).status == 0)
        let verify = try TestSupport.run(
            "systemd-analyze",
            ["verify", "--root=\(root.path)", "--man=no", "--recursive-errors=no", "/lib/systemd/system/depot.service"])
        #expect(verify.status == 0 && verify.standardError.isEmpty, "\(verify.standardError)")
        let unit = try String(contentsOf: root.appendingPathComponent("lib/systemd/system/depot.service"), encoding: .utf8)
        for line in ["User=depot", "NoNewPrivileges=yes", "ProtectSystem=strict", "ExecStart=/usr/bin/depot --root /var/lib/depot serve"] {
            #expect(unit.contains(line), "\(line)")
        }
    }

    @Test func thePackageInstallsRunsAndIsRemovedCleanlyInADebian12Chroot() throws {
        guard TestSupport.hasProgram("mmdebstrap") else {
            throw TestSupportError("mmdebstrap is missing: Scripts/install-dependencies.sh --tests installs it")
        }
        let scratch = try TestSupport.makeTemporaryDirectory("chroot")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let deb = try Self.buildPackage(into: scratch.appendingPathComponent("out"))
        // The chroot holds what the package depends on, so that dpkg alone installs it.
        let depends = try TestSupport.run("dpkg-deb", ["--field", deb, "Depends"]).text
            .split(separator: ",").compactMap { $0.split(separator: " ").first.map(String.init) }.sorted()
        let tarball = try Self.chroot(including: depends)
        let root = scratch.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try #require(try TestSupport.run("tar", ["-C", root.path, "-xf", tarball.path]).status == 0)
        // Each command in a mount namespace of its own with /proc mounted, as on any system
        // (the Swift runtime reads its arguments there); nothing stays mounted after it.
        func inChroot(_ arguments: [String]) throws -> TestSupport.ProcessResult {
            try TestSupport.run(
                "unshare", ["--mount", "--pid", "--fork", "--mount-proc=\(root.path)/proc", "chroot", root.path] + arguments,
                environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"])
        }
        func files() throws -> Set<String> {
            Set(try TestSupport.run("find", [
                root.path, "-xdev", "-not", "-path", "\(root.path)/var/log/*", "-not", "-path", "\(root.path)/var/cache/*",
                // Runtime state (a tmpfs on a running system), which adduser and systemd-analyze make.
                "-not", "-path", "\(root.path)/run/*",
            ]).text
                .split(separator: "\n").map { String($0.dropFirst(root.path.count)) })
        }
        let before = try files()
        try FileManager.default.copyItem(atPath: deb, toPath: root.path + "/tmp/depot.deb")

        let install = try inChroot(["dpkg", "-i", "/tmp/depot.deb"])
        #expect(install.status == 0, "\(install.text)\(install.standardError)")
        let version = try inChroot(["depot", "--version"])
        #expect(version.status == 0, "\(version.standardError)")
        #expect(deb.contains("depot_\(version.text.trimmingCharacters(in: .whitespacesAndNewlines))_"))
        #expect(try inChroot(["getent", "passwd", "depot"]).text.contains(":/var/lib/depot:"))
        #expect(try inChroot(["man", "-w", "depot.conf"]).status == 0)
        let verify = try inChroot(["systemd-analyze", "verify", "/lib/systemd/system/depot.service"])
        #expect(verify.status == 0 && verify.standardError.isEmpty, "\(verify.standardError)")
        // The depot user makes and uses a repository there, as README.Debian says.
        let made = try inChroot(["setpriv", "--reuid=depot", "--regid=depot", "--init-groups", "env", "HOME=/var/lib/depot",
            "depot", "--root", "/var/lib/depot", "init", "--origin", "Chroot"])
        #expect(made.status == 0, "\(made.standardError)")

        let removal = try inChroot(["dpkg", "--purge", "depot"])
        #expect(removal.status == 0, "\(removal.text)\(removal.standardError)")
        #expect(try inChroot(["dpkg-query", "-W", "depot"]).status != 0)
        // What stays, by design: the repository and the depot user (and dpkg's own records).
        let left = try files().subtracting(before).filter {
            !$0.hasPrefix("/var/lib/depot") && !$0.hasPrefix("/var/lib/dpkg/") && $0 != "/tmp/depot.deb"
        }
        #expect(left.isEmpty, "\(left.sorted())")
        #expect(!FileManager.default.fileExists(atPath: root.path + "/usr/bin/depot"))
        _ = try? TestSupport.run("gpgconf", ["--homedir", root.path + "/var/lib/depot/.depot/gnupg", "--kill", "gpg-agent"])
    }

    /// A Debian 12 (bookworm) minbase tarball with `packages`, made by mmdebstrap from the
    /// mirror this machine's apt uses, kept in `cache` by its package list.
    static func chroot(including packages: [String]) throws -> URL {
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        let key = packages.joined(separator: ",")
        let name = "bookworm-" + String(key.utf8.reduce(UInt64(14_695_981_039_346_656_037)) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }, radix: 16)
        let tarball = cache.appendingPathComponent(name + ".tar")
        if FileManager.default.fileExists(atPath: tarball.path) { return tarball }
        let sources = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
            .first { (try? String(contentsOfFile: $0, encoding: .utf8))?.contains("bookworm") == true }
        let partial = cache.appendingPathComponent(name + ".partial.tar")
        let made = try TestSupport.run(
            "mmdebstrap",
            ["--variant=minbase", "--include=" + (packages + ["man-db", "systemd"]).joined(separator: ","), "bookworm", partial.path]
                + (sources.map { [$0] } ?? []))
        guard made.status == 0 else {
            throw TestSupportError("mmdebstrap could not make a Debian 12 chroot: \(made.standardError.suffix(3000))")
        }
        try FileManager.default.moveItem(at: partial, to: tarball)
        return tarball
    }
}
