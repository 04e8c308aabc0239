import DebianFormat
import DepotTestSupport
import Foundation
import Testing

/// The published tree against Debian's own tools and the layout SPEC §2 and §6 promise.
@Suite struct PublishedTreeTests {
    static let packages = TestSupport.fixtures(in: "good") + TestSupport.fixtures(in: "real")

    /// For the same files, every field of Depot's stanzas agrees with dpkg-scanpackages but
    /// for `Filename` (Depot's pool path against the scanned folder).
    @Test func packagesStanzasAgreeWithDpkgScanpackages() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "development"] + Self.packages).status == 0)

        let folder = try TestSupport.makeTemporaryDirectory("scan")
        defer { try? FileManager.default.removeItem(at: folder) }
        for path in Self.packages {
            try FileManager.default.copyItem(
                atPath: path, toPath: folder.appendingPathComponent((path as NSString).lastPathComponent).path)
        }
        let scanned = try TestSupport.run("sh", ["-c", "cd '\(folder.path)' && dpkg-scanpackages -m . 2>/dev/null"])
        try #require(scanned.status == 0)
        var expected: [String: [String: String]] = [:]
        for paragraph in try Deb822Document(parsing: scanned.text).paragraphs {
            let key = "\(paragraph["Package"]!) \(paragraph["Architecture"]!)"
            for field in paragraph.fields { expected[key, default: [:]][field.name] = field.value }
        }

        var published: [String: [String: String]] = [:]
        for architecture in ["amd64", "arm64"] {
            let path = repository.root.appendingPathComponent(
                "public/dists/development/main/binary-\(architecture)/Packages"
            ).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            for paragraph in try Deb822Document(parsing: text).paragraphs {
                let key = "\(paragraph["Package"]!) \(paragraph["Architecture"]!)"
                published[key] = Dictionary(uniqueKeysWithValues: paragraph.fields.map { ($0.name, $0.value) })
            }
        }
        #expect(Set(published.keys) == Set(expected.keys))
        for (key, fields) in expected {
            let ours = try #require(published[key])
            for (name, value) in fields where name != "Filename" {
                #expect(
                    ours[name] == value,
                    "\(key): \(name) is \(ours[name] ?? "missing"), dpkg-scanpackages says \(value)")
            }
            // dpkg-scanpackages writes no SHA512; Depot adds it (coreutils checks it below).
            #expect(Set(ours.keys) == Set(fields.keys).union(["SHA512"]), "\(key): fields differ")
            let file = folder.appendingPathComponent((fields["Filename"]! as NSString).lastPathComponent).path
            let sha512 = try TestSupport.run("sha512sum", [file]).text.prefix(128)
            #expect(ours["SHA512"] == String(sha512))
            let filename = try #require(ours["Filename"])
            #expect(
                filename.hasPrefix("pool/main/")
                    && filename.hasSuffix((fields["Filename"]! as NSString).lastPathComponent))
        }
    }

    @Test func theTreeHasTheLayoutAptExpects() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "staging"] + Self.packages).status == 0)
        let dists = repository.root.appendingPathComponent("public/dists/staging")
        for name in [
            "InRelease", "Release", "Release.gpg", "main/binary-amd64/Packages", "main/binary-amd64/Packages.gz",
            "main/binary-amd64/Packages.xz", "main/binary-arm64/Packages.xz",
        ] {
            #expect(
                FileManager.default.fileExists(atPath: dists.appendingPathComponent(name).path), "\(name) is missing")
        }
        let release = try Deb822Document(
            parsing: String(contentsOf: dists.appendingPathComponent("Release"), encoding: .utf8)
        ).paragraphs[0]
        #expect(release["Suite"] == "staging" && release["Codename"] == "staging")
        #expect(release["Acquire-By-Hash"] == "yes")
        #expect(release["Architectures"] == "amd64 arm64" && release["Components"] == "main")
        let date = try #require(release["Date"])
        #expect(date.hasSuffix(" UTC") && date.count == "Sun, 22 Nov 2026 20:20:08 UTC".count)
        for field in ["MD5Sum", "SHA1", "SHA256", "SHA512"] {
            let lines = try #require(release.field(named: field)).lines.dropFirst()
            #expect(lines.count == 6, "\(field) lists \(lines.count) files")
            for line in lines {
                let parts = line.split(separator: " ")
                let folder = (String(parts[2]) as NSString).deletingLastPathComponent
                let byHash = dists.appendingPathComponent("\(folder)/by-hash/\(field)/\(parts[0])").path
                #expect(FileManager.default.fileExists(atPath: byHash), "\(byHash) is missing")
            }
        }
        // gzip -t and xz -t accept what Depot assembled, and both hold the plain index.
        let plain = try Data(contentsOf: dists.appendingPathComponent("main/binary-amd64/Packages"))
        for (tool, name) in [("gzip", "Packages.gz"), ("xz", "Packages.xz")] {
            let unpacked = try TestSupport.run(
                tool, ["-dc", dists.appendingPathComponent("main/binary-amd64/\(name)").path])
            #expect(unpacked.status == 0 && unpacked.standardOutput == plain, "\(tool) disagrees")
        }
        // Pool paths: prefix, source folder, version without epoch.
        let pool = repository.root.appendingPathComponent("public/pool/main")
        for path in [
            "s/snowbird-src/snowbird_1.4.2-1_amd64.deb", "libs/libsnow1/libsnow1_1.0~rc1-1_amd64.deb",
            "e/epochal/epochal_3.1-1_amd64.deb", "h/hello/hello_2.10-3_amd64.deb",
        ] {
            #expect(
                FileManager.default.fileExists(atPath: pool.appendingPathComponent(path).path), "\(path) is missing")
        }
        let verify = try repository.depot(["verify"])
        #expect(verify.status == 0, "\(verify.standardError)")
    }

    /// A publish switches `dists/<dist>` to a new generation in one rename, and the previous
    /// generations' index files stay reachable by hash for clients mid-update.
    /// apt revalidates InRelease with If-Modified-Since, and resumes with If-Range, in whole
    /// seconds: however quickly publishes follow each other, a client holding what an earlier
    /// publish served is never told it is unchanged (304) nor sent a slice of the new file
    /// (206), and no Last-Modified is later than the answer's Date.
    @Test func aPublishIsNeverReportedUnchangedHoweverQuickly() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let builder = PackageBuilder()
        func header(_ name: String, _ head: String) throws -> String {
            let line = try #require(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name + ":") })
            return String(line.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
        }
        // Each round lists a new package: every InRelease and Packages.xz differs from the one before.
        var previous: [String: String] = [:]
        for round in 0..<6 {
            try #require(try repository.depot(["push", "development", try builder.make("quick\(round)", "1.0-1")]).status == 0)
            for index in ["InRelease", "main/binary-amd64/Packages.xz"] {
                let path = "dists/development/\(index)"
                let head = try server.curl(path, ["-I"]).text
                let modified = try header("last-modified", head)
                let date = try header("date", head)
                #expect(
                    try #require(Self.httpDate(modified)) <= (try #require(Self.httpDate(date))),
                    "round \(round): \(index): Last-Modified \(modified) is later than Date \(date)")
                if let before = previous[index] {
                    let revalidated = try server.curl(path, ["-o", "/dev/null", "-H", "If-Modified-Since: \(before)"]).text
                    #expect(revalidated.hasPrefix("HTTP/1.1 200"), "round \(round): a changed \(index) was answered \(revalidated)")
                    let resumed = try server.curl(
                        path, ["-o", "/dev/null", "-H", "Range: bytes=10-", "-H", "If-Range: \(before)"]).text
                    #expect(resumed.hasPrefix("HTTP/1.1 200"), "round \(round): a changed \(index) was resumed with \(resumed)")
                }
                previous[index] = modified
            }
        }
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    @Test func earlierGenerationsStayReachableByHash() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let dists = repository.root.appendingPathComponent("public/dists")
        var promised: [String] = []
        for (round, path) in Self.packages.prefix(4).enumerated() {
            try #require(try repository.depot(["push", "development", path]).status == 0)
            let link = try FileManager.default.destinationOfSymbolicLink(
                atPath: dists.appendingPathComponent("development").path)
            #expect(link == ".generations/development/\(round + 2)")  // init published generation 1
            let release = try String(contentsOf: dists.appendingPathComponent("development/Release"), encoding: .utf8)
            let sha256 = release.components(separatedBy: "SHA256:\n")[1].components(separatedBy: "\nSHA512:")[0]
            promised += sha256.split(separator: "\n").map { line in
                let parts = line.split(separator: " ")
                return "\((String(parts[2]) as NSString).deletingLastPathComponent)/by-hash/SHA256/\(parts[0])"
            }
        }
        // The live generation still holds what the previous three generations' Release files named.
        let recent = promised.suffix(6 * 4)
        for path in recent {
            #expect(
                FileManager.default.fileExists(atPath: dists.appendingPathComponent("development/\(path)").path),
                "\(path) is gone")
        }
        let generations = try FileManager.default.contentsOfDirectory(
            atPath: dists.appendingPathComponent(".generations/development").path)
        #expect(generations.count <= 4)
    }
}
