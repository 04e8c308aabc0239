import DepotTestSupport
import Foundation
import Testing

/// The served tree in an S3-compatible bucket (moto's server on 127.0.0.1): what Depot
/// publishes there, the real apt-get reads straight from the bucket.
@Suite(
    .enabled(if: TestSupport.hasProgram("apt-get"), "needs apt-get"),
    .serialized, .offThePool)
struct ObjectStorageTests {
    static let goodPackages = TestSupport.fixtures(in: "good") + [TestSupport.fixture("real/hello_2.10-3_amd64.deb")]

    /// A repository whose tree is in bucket `apt` of a fresh moto server, below `depot/`,
    /// every object readable anonymously (as a bucket policy would make it on AWS).
    struct BucketRepository {
        let moto: MotoServer
        let repository: ScratchRepository
        let keyFile: URL

        init(extraInit: [String] = []) throws {
            moto = try MotoServer()
            try moto.createBucket("apt")
            repository = try ScratchRepository(
                [
                    "--storage", "s3://apt/depot", "--s3-endpoint", moto.endpoint, "--s3-acl", "public-read",
                ] + extraInit, environment: MotoServer.clientEnvironment)
            let key = try repository.depot(["export-key"])
            keyFile = repository.root.appendingPathComponent("archive-key.asc")
            try key.standardOutput.write(to: keyFile)
        }

        /// Where apt finds the tree: the bucket's own URL.
        var treeURL: String { "\(moto.endpoint)/apt/depot" }

        func aptClient(_ distribution: String, at url: String? = nil) throws -> AptClient {
            try repository.aptClient(distribution, at: url ?? treeURL, trusting: keyFile.path)
        }

        func curl(_ path: String, _ arguments: [String] = []) throws -> TestSupport.ProcessResult {
            try TestSupport.run("curl", ["-s", "-m", "60"] + arguments + ["\(treeURL)/\(path)"])
        }

        /// The response headers of a HEAD of `path` in the bucket, names lower-cased.
        func headers(_ path: String) throws -> [String: String] {
            let text = try curl(path, ["-I"]).text
            var headers: [String: String] = [:]
            for line in text.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces)
            }
            return headers
        }

        func remove() {
            repository.remove()
            moto.stop()
        }
    }

    @Test func aptGetInstallsFromTheBucketTheExactFilesPushed() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        let repository = bucket.repository
        #expect(!FileManager.default.fileExists(atPath: repository.publicDirectory))

        let push = try repository.depot(["push", "staging"] + Self.goodPackages + ["--note", "build 42"])
        #expect(push.status == 0, "\(push.standardError)")
        let promote = try repository.depot(["promote", "hello", "--from", "staging", "--to", "production"])
        #expect(promote.status == 0, "\(promote.standardError)")

        let apt = try bucket.aptClient("staging")
        defer { apt.remove() }
        let update = try apt.run(["update"])
        #expect(update.status == 0, "\(update.text)\(update.standardError)")
        let messages = update.text + update.standardError
        #expect(!messages.contains("W:") && !messages.contains("E:"), "apt-get update complained: \(messages)")
        #expect(try apt.candidate("snowbird") == "1.4.2-1")
        #expect(try apt.candidate("hello") == "2.10-3")
        for package in ["snowbird", "epochal", "hello-depot", "hello"] {
            let download = try apt.run(["download", package], in: apt.downloads)
            #expect(download.status == 0, "\(download.standardError)")
        }
        let originals = try Self.goodPackages.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        let downloaded = try FileManager.default.contentsOfDirectory(atPath: apt.downloads.path)
        #expect(downloaded.count == 4)
        for name in downloaded {
            let fetched = try Data(contentsOf: apt.downloads.appendingPathComponent(name))
            #expect(originals.contains(fetched), "\(name) is not byte for byte a file that was pushed")
        }

        let production = try bucket.aptClient("production")
        defer { production.remove() }
        #expect(try production.run(["update"]).status == 0)
        #expect(try production.candidate("hello") == "2.10-3")
        #expect(try production.candidate("snowbird") == nil)

        // Objects carry their type, and caches may keep what never changes.
        let pool = try bucket.headers("pool/main/h/hello/hello_2.10-3_amd64.deb")
        #expect(pool["content-type"] == "application/vnd.debian.binary-package")
        #expect(pool["cache-control"] == "public, max-age=31536000, immutable")
        let inRelease = try bucket.headers("dists/staging/InRelease")
        #expect(inRelease["cache-control"] == "no-cache")
        let release = try String(decoding: bucket.curl("dists/staging/Release").standardOutput, as: UTF8.self)
        let xzHash = try #require(
            release.split(separator: "\n").last { $0.hasSuffix("main/binary-amd64/Packages.xz") }?
                .split(separator: " ").first)
        let byHash = try bucket.headers("dists/staging/main/binary-amd64/by-hash/SHA512/\(xzHash)")
        #expect(byHash["content-type"] == "application/x-xz")
        #expect(byHash["cache-control"] == "public, max-age=31536000, immutable")

        let verify = try repository.depot(["verify", "--deep"])
        #expect(verify.status == 0, "\(verify.text)\(verify.standardError)")
        #expect(verify.text.contains("checked \(Self.goodPackages.count) pool files"), "\(verify.text)")

        // Other bytes of the same size: only reading them tells (moto takes unsigned writes).
        let hello = "pool/main/h/hello/hello_2.10-3_amd64.deb"
        var tampered = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("real/hello_2.10-3_amd64.deb")))
        tampered[tampered.count / 2] ^= 0x01
        let scratch = repository.root.appendingPathComponent("tampered.deb")
        try tampered.write(to: scratch)
        #expect(try bucket.curl(hello, ["-f", "-T", scratch.path]).status == 0)
        #expect(try repository.depot(["verify"]).status == 0)
        let deep = try repository.depot(["verify", "--deep"])
        #expect(deep.status != 0)
        #expect(
            deep.standardError.contains("s3://apt/depot/\(hello): content differs from what was pushed"),
            "\(deep.standardError)")
    }

    /// As on a local tree: each publish gives InRelease a later Last-Modified (whole seconds),
    /// so no client's If-Modified-Since is answered 304 over a newer tree.
    @Test func eachPublishGivesInReleaseALaterLastModified() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        let builder = PackageBuilder()
        var previous: Date?
        for round in 0..<3 {
            try #require(
                try bucket.repository.depot(["push", "development", try builder.make("quick\(round)", "1.0-1")]).status == 0)
            let modified = try #require(
                PublishedTreeTests.httpDate(try bucket.headers("dists/development/InRelease")["last-modified"] ?? ""))
            if let previous { #expect(modified > previous, "round \(round): \(modified) after \(previous)") }
            previous = modified
        }
    }

    /// Re-signing a quiet `Valid-For` distribution works on a bucket as on `public/`: on
    /// demand with `depot publish DIST`, and by `depot serve` once half of it is gone.
    @Test func aQuietDistributionInTheBucketIsReSignedBeforeItExpires() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        try bucket.repository.editConfiguration(
            replacing: "Distribution: development\n", with: "Distribution: development\nValid-For: 4s\n")
        try #require(
            try bucket.repository.depot(["push", "development", TestSupport.fixture("real/hello_2.10-3_amd64.deb")]).status == 0)
        func release() throws -> (validUntil: String, indices: String) {
            let text = String(decoding: try bucket.curl("dists/development/Release", ["-f"]).standardOutput, as: UTF8.self)
            let validUntil = text.split(separator: "\n").first { $0.hasPrefix("Valid-Until: ") } ?? ""
            return (String(validUntil), String(text[try #require(text.range(of: "SHA256:")).lowerBound...]))
        }
        let signed = try release()
        try #require(!signed.validUntil.isEmpty)

        usleep(1_100_000)
        try #require(try bucket.repository.depot(["publish", "development"]).status == 0)
        let republished = try release()
        #expect(republished.validUntil != signed.validUntil && republished.indices == signed.indices)

        let server = try DepotServe(root: bucket.repository.root, environment: MotoServer.clientEnvironment)
        defer { server.stop() }
        let apt = try bucket.aptClient("development")
        defer { apt.remove() }
        for round in 0..<4 {
            usleep(2_000_000)
            let update = try apt.run(["update"])
            #expect(update.status == 0 && !update.standardError.contains("E:"), "round \(round): \(update.standardError)")
        }
        let later = try release()
        #expect(later.validUntil != republished.validUntil && later.indices == signed.indices)
        #expect(server.logText.contains("depot: re-signed development"), "\(server.logText)")
    }

    /// A distribution made from a template leaves the bucket when gc expires it: its
    /// `InRelease` first, then every other object under `dists/<name>/`.
    @Test func anExpiredBranchLeavesTheBucket() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        try bucket.repository.addToConfiguration("Distribution: pr-*\nExpires-After: 2s\n")
        try #require(
            try bucket.repository.depot(["push", "pr-5", TestSupport.fixture("real/hello_2.10-3_amd64.deb")]).status == 0)
        #expect(try bucket.curl("dists/pr-5/InRelease", ["-o", "/dev/null", "-w", "%{http_code}"]).text == "200")
        usleep(2_500_000)
        let collected = try bucket.repository.depot(["gc"])
        #expect(collected.status == 0 && collected.text.contains("expired pr-5"), "\(collected.text)\(collected.standardError)")
        for path in ["dists/pr-5/InRelease", "dists/pr-5/Release", "dists/pr-5/main/binary-amd64/Packages"] {
            #expect(try bucket.curl(path, ["-o", "/dev/null", "-w", "%{http_code}"]).text != "200", "\(path)")
        }
        let listing = try TestSupport.run("curl", ["-s", "\(bucket.moto.endpoint)/apt?prefix=depot/dists/pr-5/"]).text
        #expect(!listing.contains("<Key>"), "\(listing)")
        #expect(try bucket.curl("dists/development/InRelease", ["-o", "/dev/null", "-w", "%{http_code}"]).text == "200")
    }

    @Test func serveRedirectsTheTreeToTheBucketAndAptFollows() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        try #require(try bucket.repository.depot(["push", "development", TestSupport.fixture("real/hello_2.10-3_amd64.deb")]).status == 0)
        let server = try DepotServe(root: bucket.repository.root, environment: MotoServer.clientEnvironment)
        defer { server.stop() }

        let head = try server.curl("dists/development/InRelease", ["-I"])
        #expect(head.text.hasPrefix("HTTP/1.1 302"), "\(head.text)")
        #expect(head.text.contains("Location: \(bucket.treeURL)/dists/development/InRelease\r\n"), "\(head.text)")
        #expect(try server.curl("healthz").status == 0)

        let apt = try bucket.aptClient("development", at: String(server.url.dropLast()))
        defer { apt.remove() }
        let update = try apt.run(["update"])
        #expect(update.status == 0, "\(update.text)\(update.standardError)")
        let download = try apt.run(["download", "hello"], in: apt.downloads)
        #expect(download.status == 0, "\(download.standardError)")
        server.stop()

        // With Public-URL (a CDN), there; no credentials are needed to know where.
        try bucket.repository.editConfiguration(
            replacing: "Origin:", with: "Public-URL: https://apt.example.com/depot/\nOrigin:")
        let credentialless = ProcessInfo.processInfo.environment.merging(
            ["AWS_ACCESS_KEY_ID": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"]) { $1 }
        let cdn = try DepotServe(root: bucket.repository.root, environment: credentialless)
        defer { cdn.stop() }
        let redirected = try cdn.curl("pool/main/h/hello/hello_2.10-3_amd64.deb", ["-I"])
        #expect(
            redirected.text.contains("Location: https://apt.example.com/depot/pool/main/h/hello/hello_2.10-3_amd64.deb\r\n"),
            "\(redirected.text)")
    }

    @Test func gcKeepsWhatNothingReferencesForTheGracePeriod() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        let repository = bucket.repository
        try repository.editConfiguration(replacing: "Distribution: development\n", with: "Distribution: development\nRetain-History: 1\n")
        let builder = PackageBuilder()
        let first = try builder.make("graceful", "1.0-1")
        let second = try builder.make("graceful", "2.0-1")
        try #require(try repository.depot(["push", "development", first]).status == 0)
        let oldRelease = String(decoding: try bucket.curl("dists/development/Release").standardOutput, as: UTF8.self)
        try #require(try repository.depot(["push", "development", second]).status == 0)
        // Beyond the one history entry retained, so that nothing can restore version 1.
        try #require(try repository.depot(["push", "development", try builder.make("filler", "1.0-1")]).status == 0)
        let oldPool = "pool/main/g/graceful/graceful_1.0-1_amd64.deb"
        let oldIndex = try #require(
            oldRelease.split(separator: "\n").last { $0.hasSuffix("main/binary-amd64/Packages.xz") }?
                .split(separator: " ").first)
        let oldByHash = "dists/development/main/binary-amd64/by-hash/SHA512/\(oldIndex)"

        // An index a publish wrote before it was killed, which no Release names.
        let stray = "dists/development/main/binary-amd64/by-hash/SHA512/" + String(repeating: "ab", count: 64)
        let scratch = repository.root.appendingPathComponent("stray")
        try Data("stray index\n".utf8).write(to: scratch)
        #expect(try bucket.curl(stray, ["-f", "-H", "x-amz-acl: public-read", "-T", scratch.path]).status == 0)

        // Within the grace period (24 h by default) all stay, for clients mid-update.
        let kept = try repository.depot(["gc"])
        #expect(kept.status == 0, "\(kept.standardError)")
        #expect(kept.text.contains("kept \(oldPool)"), "\(kept.text)")
        #expect(kept.text.contains("kept \(oldByHash)"), "\(kept.text)")
        #expect(try bucket.curl(oldPool, ["-o", "/dev/null", "-w", "%{http_code}"]).text == "200")
        #expect(try bucket.curl(oldByHash, ["-o", "/dev/null", "-w", "%{http_code}"]).text == "200")
        #expect(try bucket.curl(stray, ["-o", "/dev/null", "-w", "%{http_code}"]).text == "200")

        // Other bytes under the kept file's name and version would replace what clients may
        // still fetch: refused, and nothing recorded.
        let rebuilt = try builder.make("graceful", "1.0-1", extra: ["Homepage: https://rebuilt.example"])
        let refused = try repository.depot(["push", "development", rebuilt, "--allow-downgrade"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("holds a removed file of this name and version"), "\(refused.standardError)")
        #expect(try listed(repository, "development") == ["graceful 2.0-1 amd64", "filler 1.0-1 amd64"])

        try repository.editConfiguration(replacing: "Origin:", with: "GC-Grace: 0\nOrigin:")
        let deleted = try repository.depot(["gc", "--json"])
        #expect(deleted.status == 0, "\(deleted.standardError)")
        let outcome = try #require(try JSONSerialization.jsonObject(with: deleted.standardOutput) as? [String: Any])
        #expect(outcome["unreferenced"] as? [String] == [oldPool])
        #expect((outcome["superseded"] as? [String] ?? []).contains(oldByHash), "\(outcome)")
        #expect((outcome["superseded"] as? [String] ?? []).contains(stray), "\(outcome)")
        #expect(try bucket.curl(stray, ["-o", "/dev/null", "-w", "%{http_code}"]).text != "200")
        #expect(try bucket.curl(oldPool, ["-o", "/dev/null", "-w", "%{http_code}"]).text != "200")
        #expect(try bucket.curl(oldByHash, ["-o", "/dev/null", "-w", "%{http_code}"]).text != "200")
        let verify = try repository.depot(["verify"])
        #expect(verify.status == 0, "\(verify.text)\(verify.standardError)")
    }

    @Test func aFailedUploadIsOneLineAndTheNextCommandCompletesIt() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        let repository = bucket.repository
        let hello = TestSupport.fixture("real/hello_2.10-3_amd64.deb")
        try #require(try repository.depot(["push", "development", hello]).status == 0)

        // Nothing listens on port 9 of 127.0.0.1.
        try repository.editConfiguration(replacing: bucket.moto.endpoint, with: "http://127.0.0.1:9")
        let builder = PackageBuilder()
        let push = try repository.depot(["push", "development", try builder.make("offline", "1.0-1")])
        #expect(push.status != 0)
        #expect(push.standardError.hasPrefix("depot: error: "), "\(push.standardError)")
        #expect(push.standardError.contains("bucket 'apt'"), "\(push.standardError)")
        #expect(push.standardError.split(separator: "\n").count == 1, "\(push.standardError)")
        #expect(try listed(repository, "development") == ["hello 2.10-3 amd64"])

        // A promotion uploads nothing before it commits: it is recorded, and left unpublished.
        let promote = try repository.depot(["promote", "hello", "--from", "development"])
        #expect(promote.status != 0)
        #expect(promote.standardError.contains("bucket 'apt'"), "\(promote.standardError)")
        #expect(try listed(repository, "staging") == ["hello 2.10-3 amd64"])

        try repository.editConfiguration(replacing: "http://127.0.0.1:9", with: bucket.moto.endpoint)
        let verify = try repository.depot(["verify"])
        #expect(verify.text.contains("staging: has changes not yet published"), "\(verify.text)")
        let publish = try repository.depot(["publish"])
        #expect(publish.status == 0, "\(publish.standardError)")
        let apt = try bucket.aptClient("staging")
        defer { apt.remove() }
        #expect(try apt.run(["update"]).status == 0)
        #expect(try apt.candidate("hello") == "2.10-3")
    }

    @Test func initRefusesABucketItCannotUse() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("taken")
        let environment = MotoServer.clientEnvironment
        let root = try TestSupport.makeTemporaryDirectory("repo")
        defer { try? FileManager.default.removeItem(at: root) }
        func initialize(_ arguments: [String], environment: [String: String] = environment) throws -> TestSupport.ProcessResult {
            try TestSupport.run(
                TestSupport.depotExecutable, ["--root", root.path, "init"] + arguments, environment: environment)
        }
        let cases: [([String], [String: String], String)] = [
            (["--storage", "s3://missing/depot", "--s3-endpoint", moto.endpoint], environment, "create the bucket"),
            (["--storage", "s3://Bad_Name/x", "--s3-endpoint", moto.endpoint], environment, "is not a bucket name"),
            (["--s3-region", "eu-central-1"], environment, "--s3-region applies to a bucket"),
            (
                ["--storage", "s3://taken/depot", "--s3-endpoint", moto.endpoint],
                environment.merging(["AWS_ACCESS_KEY_ID": ""]) { $1 }, "no AWS credentials"
            ),
        ]
        for (arguments, environment, message) in cases {
            let result = try initialize(arguments, environment: environment)
            #expect(result.status != 0)
            #expect(
                result.standardError.hasPrefix("depot: error: ") && result.standardError.contains(message),
                "\(arguments): \(result.standardError)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty, "\(arguments)")
        }
        // A prefix that holds another tree is never written over.
        let first = try initialize(["--storage", "s3://taken/depot", "--s3-endpoint", moto.endpoint])
        #expect(first.status == 0, "\(first.standardError)")
        let other = try TestSupport.makeTemporaryDirectory("repo")
        defer { try? FileManager.default.removeItem(at: other) }
        let second = try TestSupport.run(
            TestSupport.depotExecutable,
            ["--root", other.path, "init", "--storage", "s3://taken/depot", "--s3-endpoint", moto.endpoint],
            environment: environment)
        #expect(second.status != 0)
        #expect(second.standardError.contains("already holds objects"), "\(second.standardError)")
        _ = try? TestSupport.run(
            "gpgconf", ["--homedir", root.appendingPathComponent(".depot/gnupg").path, "--kill", "gpg-agent"])
    }

    @Test func refusedCredentialsAreOneLineNamingTheBucket() throws {
        // This server takes two requests without credentials (the check that it is up, and
        // making the bucket), then knows no access key at all.
        let moto = try MotoServer(settings: ["INITIAL_NO_AUTH_ACTION_COUNT": "2"])
        defer { moto.stop() }
        try moto.createBucket("locked")
        let root = try TestSupport.makeTemporaryDirectory("repo")
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try TestSupport.run(
            TestSupport.depotExecutable,
            ["--root", root.path, "init", "--storage", "s3://locked/depot", "--s3-endpoint", moto.endpoint],
            environment: MotoServer.clientEnvironment)
        #expect(result.status != 0)
        #expect(result.standardError.hasPrefix("depot: error: bucket 'locked'"), "\(result.standardError)")
        #expect(result.standardError.contains("InvalidAccessKeyId"), "\(result.standardError)")
        #expect(result.standardError.contains("check the AWS credentials"), "\(result.standardError)")
        #expect(result.standardError.split(separator: "\n").count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
    }
}

/// What publishing to a bucket costs, and what apt sees while changes are interrupted.
@Suite(.enabled(if: TestSupport.hasProgram("apt-get"), "needs apt-get"), .serialized, .offThePool)
struct ObjectStorageConsistencyTests {
    typealias BucketRepository = ObjectStorageTests.BucketRepository

    /// The requests one `depot` command sends to the bucket.
    static func requests(
        of arguments: [String], in bucket: BucketRepository
    ) throws -> [String] {
        let before = bucket.moto.requestLines().count
        let result = try bucket.repository.depot(arguments)
        guard result.status == 0 else { throw TestSupportError("\(arguments): \(result.standardError)") }
        return Array(bucket.moto.requestLines().dropFirst(before))
    }

    @Test func pushingOnePackageCostsTheSameWhateverTheDistributionHolds() throws {
        let builder = PackageBuilder()
        var counts: [Int] = []
        for size in [4, 60] {
            let bucket = try BucketRepository()
            defer { bucket.remove() }
            let packages = try (0..<size).map { try builder.make("filler\(size)-\($0)", "1.0-1") }
            try #require(try bucket.repository.depot(["push", "development"] + packages).status == 0)
            let push = try Self.requests(of: ["push", "development", try builder.make("newcomer", "1.0-1")], in: bucket)
            #expect(!push.contains { $0.contains("list-type") }, "a push listed the bucket: \(push)")
            let uploads = push.filter { $0.hasPrefix("PUT ") }
            // The pool object, the amd64 index's three files under two by-hash names and their
            // plain names, Release, Release.gpg and InRelease; the arm64 index did not change.
            #expect(uploads.count == 1 + 6 + 3 + 3, "\(uploads)")
            #expect(uploads.filter { $0.contains("/pool/") }.count == 1, "\(uploads)")
            #expect(!uploads.contains { $0.contains("binary-arm64") }, "\(uploads)")
            let promote = try Self.requests(of: ["promote", "newcomer", "--from", "development"], in: bucket)
            #expect(!promote.contains { $0.contains("/pool/") && $0.hasPrefix("PUT ") }, "\(promote)")
            counts.append(push.count)
        }
        #expect(counts[0] == counts[1], "requests of a push into 4 and into 60 packages: \(counts)")
    }

    /// `apt-get update` runs in a loop while pushes and promotions publish to the bucket and
    /// `kill -9` interrupts some of them: apt never meets a missing file or a hash mismatch.
    @Test func aptNeverSeesAnInconsistentTreeWhileChangesAreKilled() throws {
        let bucket = try BucketRepository()
        defer { bucket.remove() }
        let repository = bucket.repository
        let builder = PackageBuilder()
        var generator = SeededGenerator(seed: 0x6b696c6c)
        try #require(try repository.depot(["push", "development", try builder.make("steady", "1.0-1")]).status == 0)
        try #require(try repository.depot(["promote", "steady", "--from", "development"]).status == 0)

        let failures = Failures()
        let stop = Failures()
        let clients = try ["development", "staging"].map { try bucket.aptClient($0) }
        defer { for client in clients { client.remove() } }
        let updates = updateLoops(clients, failures: failures, stop: stop)

        var killed = 0
        for round in 0..<24 {
            let arguments =
                round % 3 == 2
                ? ["promote", "--all", "--from", "development"]
                : ["push", "development", try builder.make("churn\(round % 4)", "\(round + 1).0-1")]
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestSupport.depotExecutable)
            process.arguments = ["--root", repository.root.path] + arguments
            process.environment = MotoServer.clientEnvironment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if round % 2 == 1 {
                usleep(UInt32.random(in: 20_000...400_000, using: &generator))
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    killed += 1
                }
            }
            process.waitUntilExit()
        }
        stop.add("stop")
        updates.wait()
        #expect(killed > 0)
        #expect(failures.all.isEmpty, "apt-get update failed while changes were killed: \(failures.all.prefix(3))")

        let publish = try repository.depot(["publish"])
        #expect(publish.status == 0, "\(publish.standardError)")
        let verify = try repository.depot(["verify"])
        #expect(verify.status == 0, "\(verify.text)\(verify.standardError)")
        for (client, distribution) in zip(clients, ["development", "staging"]) {
            #expect(try client.run(["update"]).status == 0)
            let listedVersions = try listed(repository, distribution).filter { $0.hasPrefix("churn") }
            for line in listedVersions {
                let parts = line.split(separator: " ")
                #expect(try client.candidate(String(parts[0])) == String(parts[1]), "\(line) in \(distribution)")
            }
        }
    }
}
