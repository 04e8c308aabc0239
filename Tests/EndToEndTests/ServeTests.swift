import DepotTestSupport
import Foundation
import Testing

/// An HTTP answer as curl printed it with `-D -`: the status, the headers, the body.
struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var body: Data

    init(_ result: TestSupport.ProcessResult) throws {
        let data = result.standardOutput
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else {
            throw TestSupportError("no HTTP answer: \(result.standardError)")
        }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        status = Int(head[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        self.headers = headers
        body = data[end.upperBound...]
    }

    var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    var error: String? { (json as? [String: Any])?["error"] as? String }
}

@Suite(.enabled(if: TestSupport.hasProgram("curl") && TestSupport.hasProgram("apt-get"), "needs curl and apt-get"))
struct ServeTests {
    static let snowbird = TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb")

    @Test func aptGetInstallsThroughDepotServeAndItStopsCleanlyOnSIGTERM() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = TestSupport.fixtures(in: "good")
        try #require(try repository.depot(["push", "staging"] + packages).status == 0)
        let server = try DepotServe(root: repository.root)
        let apt = try repository.aptClient("staging", at: server.url)
        defer { apt.remove() }

        let update = try apt.run(["update"])
        #expect(update.status == 0, "\(update.text)\(update.standardError)")
        #expect(!(update.text + update.standardError).contains("W:"), "\(update.text)\(update.standardError)")
        #expect(try apt.candidate("snowbird") == "1.4.2-1")
        let install = try apt.run(["install", "--download-only", "-y", "hello-depot", "bzipped"])
        #expect(install.status == 0, "\(install.text)\(install.standardError)")
        for name in ["hello-depot_1.0-1_all.deb", "bzipped_1.0-1_amd64.deb"] {
            let fetched = try Data(contentsOf: apt.directory.appendingPathComponent("cache/archives/\(name)"))
            #expect(fetched == (try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("good/\(name)")))))
        }
        #expect(server.logText.contains("GET /dists/staging/InRelease 200"))
        #expect(server.stop() == 0, "\(server.logText)")
    }

    @Test func theTreeIsServedLikeAWebServerServesItAndNothingOutsideIt() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "development", Self.snowbird]).status == 0)
        // A link leading out of public/ must not be followed.
        try FileManager.default.createSymbolicLink(
            atPath: repository.publicDirectory + "/pool/escape", withDestinationPath: "/etc/passwd")
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let deb = "pool/main/s/snowbird-src/snowbird_1.4.2-1_amd64.deb"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.snowbird))
        // A file changed within the current second is dated by that second's start, which a
        // revalidation takes as changed (PUBLISHING in depot(1)): let it pass.
        usleep(1_100_000)

        let head = try HTTPAnswer(server.curl(deb, ["-I"]))
        #expect(head.status == 200)
        #expect(head.headers["content-length"] == String(bytes.count))
        #expect(head.headers["content-type"] == "application/vnd.debian.binary-package")
        // curl -I -D - ends with one more blank line; a body would follow it.
        #expect(head.body.allSatisfy { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") })
        let eTag = try #require(head.headers["etag"])
        let modified = try #require(head.headers["last-modified"])
        // The file's modification time as an IMF-fixdate, as date(1) writes it.
        // The end of the file's second: the first date the file is not later than.
        let mtime = try TestSupport.run(
            "python3", ["-c", "import os, sys; print(-(-os.stat(sys.argv[1]).st_mtime_ns // 10**9))", repository.publicDirectory + "/" + deb]
        ).text.trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = try TestSupport.run(
            "env", ["LC_ALL=C", "date", "-u", "-d", "@" + mtime, "+%a, %d %b %Y %H:%M:%S GMT"]
        ).text.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(modified == expected)

        let whole = try HTTPAnswer(server.curl(deb))
        #expect(whole.status == 200 && whole.body == bytes)
        #expect(try HTTPAnswer(server.curl(deb, ["-H", "If-None-Match: \(eTag)"])).status == 304)
        #expect(try HTTPAnswer(server.curl(deb, ["-H", "If-Modified-Since: \(modified)"])).status == 304)
        #expect(try HTTPAnswer(server.curl(deb, ["-H", "If-None-Match: \"other\""])).status == 200)

        let part = try HTTPAnswer(server.curl(deb, ["-H", "Range: bytes=10-19"]))
        #expect(part.status == 206 && part.body == bytes[10...19])
        #expect(part.headers["content-range"] == "bytes 10-19/\(bytes.count)")
        let tail = try HTTPAnswer(server.curl(deb, ["-H", "Range: bytes=-16"]))
        #expect(tail.status == 206 && tail.body == bytes.suffix(16))
        let open = try HTTPAnswer(server.curl(deb, ["-H", "Range: bytes=900-"]))
        #expect(open.status == 206 && open.body == bytes[900...])
        let beyond = try HTTPAnswer(server.curl(deb, ["-H", "Range: bytes=\(bytes.count)-"]))
        #expect(beyond.status == 416 && beyond.headers["content-range"] == "bytes */\(bytes.count)")
        // A stale If-Range gets the whole file.
        let stale = try HTTPAnswer(server.curl(deb, ["-H", "Range: bytes=0-9", "-H", "If-Range: \"old\""]))
        #expect(stale.status == 200 && stale.body == bytes)

        // A file larger than one chunk goes out in pieces: whole, and a range across pieces.
        let large = Data((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
        try large.write(to: URL(fileURLWithPath: repository.publicDirectory + "/pool/large.bin"))
        #expect(try HTTPAnswer(server.curl("pool/large.bin")).body == large)
        let across = try HTTPAnswer(server.curl("pool/large.bin", ["-H", "Range: bytes=200000-600000"]))
        #expect(across.status == 206 && across.body == large[200_000...600_000])

        let release = try HTTPAnswer(server.curl("dists/development/InRelease"))
        #expect(release.status == 200 && String(decoding: release.body, as: UTF8.self).contains("Suite: development"))
        #expect(try HTTPAnswer(server.curl("archive-key.asc")).status == 200)

        for path in [
            "dists/../../depot.conf", "dists/%2e%2e/%2e%2e/depot.conf", "pool/..%2f..%2fdepot.conf",
            "pool/%2E%2E/%2E%2E/.depot/depot.sqlite", ".depot/depot.sqlite", "pool/escape", "dists/",
            "dists/development/nothing", "depot.conf",
        ] {
            let answer = try HTTPAnswer(server.curl(path))
            #expect((400..<500).contains(answer.status), "\(path) answered \(answer.status)")
            #expect(!String(decoding: answer.body, as: UTF8.self).contains("root:"), "\(path) leaked a file")
        }
    }

    @Test func theAPIChecksTokensAndScopesAndRefusesBadInputChangingNothing() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let ci = try repository.createToken("ci", allowing: ["push:development", "read:*"])
        let ops = try repository.createToken("ops", allowing: ["promote:staging", "rollback:staging"])
        let admin = try repository.createToken("admin", allowing: ["push:*"])
        let server = try DepotServe(root: repository.root, arguments: ["--max-upload-size", "30K"])
        defer { server.stop() }
        func call(_ path: String, _ token: String?, _ arguments: [String] = []) throws -> HTTPAnswer {
            try HTTPAnswer(server.curl(path, (token.map { ["-H", "Authorization: Bearer \($0)"] } ?? []) + arguments))
        }
        let push = "api/v1/distributions/development/packages"
        let upload = [
            "--data-binary", "@" + Self.snowbird, "-H", "Content-Type: application/vnd.debian.binary-package",
        ]

        let before = try repository.snapshot()
        let refusals: [(String, String?, [String], Int, String)] = [
            (push, nil, upload, 401, "unauthorized"),
            (push, "depot_not-a-token", upload, 401, "unauthorized"),
            ("api/v1/distributions/staging/packages", ci, upload, 403, "forbidden"),
            ("api/v1/history", ops, [], 403, "forbidden"),
            (push, ci, ["--data-binary", "@" + TestSupport.fixture("bad/truncated.deb")], 422, "invalid-package"),
            (push, ci, ["--data-binary", "not a package at all"], 422, "invalid-package"),
            (push, ci, ["--data-binary", "@" + TestSupport.fixture("real/hello_2.10-3_amd64.deb")], 413, "too-large"),
            ("api/v1/distributions/nowhere/packages", admin, upload, 404, "unknown-distribution"),
            (
                "api/v1/promotions", ops, ["--data-binary", "{\"packages\": [\"snowbird\"", "-X", "POST"], 400,
                "invalid-json"
            ),
            (
                "api/v1/promotions", ops,
                ["--data-binary", "{\"packages\": [\"snowbird\"], \"from\": \"development\"}"],
                404, "not-listed"
            ),
        ]
        for (path, token, arguments, status, error) in refusals {
            let answer = try call(path, token, arguments)
            #expect(
                answer.status == status,
                "\(path) \(arguments): \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.error == error, "\(String(decoding: answer.body, as: UTF8.self))")
            #expect((answer.json as? [String: Any])?["detail"] is String)
        }
        #expect(try repository.snapshot() == before, "a refused request changed the repository")
        #expect(!server.logText.contains(ci) && !server.logText.contains(ops), "a token reached the log")

        let pushed = try call(push + "?note=build%2042", ci, upload)
        #expect(pushed.status == 201, "\(String(decoding: pushed.body, as: UTF8.self))")
        let promoted = try call(
            "api/v1/promotions", ops,
            ["--data-binary", "{\"packages\": [\"snowbird\"], \"from\": \"development\", \"note\": \"QA ok\"}"])
        #expect(promoted.status == 200, "\(String(decoding: promoted.body, as: UTF8.self))")
        let stagingList = try call("api/v1/distributions/staging/packages", ci)
        #expect((stagingList.json as? [[String: Any]])?.count == 1)
        let history = try call("api/v1/history?limit=2", ci)
        let entries = history.json as? [[String: Any]] ?? []
        #expect(entries.map { $0["user"] as? String } == ["ops", "ci"])
        #expect(entries.map { $0["note"] as? String } == ["QA ok", "build 42"])
        let diff = try call("api/v1/diff?from=development&to=staging", ci)
        #expect(diff.status == 200 && (diff.json as? [Any])?.isEmpty == true)
        let show = try call("api/v1/packages/snowbird", ci)
        #expect(show.status == 200 && (show.json as? [String: Any])?["name"] as? String == "snowbird")
        let rolledBack = try call(
            "api/v1/distributions/staging/rollback", ops, ["--data-binary", "{\"packages\": [\"snowbird\"]}"])
        #expect(rolledBack.status == 200, "\(String(decoding: rolledBack.body, as: UTF8.self))")
        // staging lists nothing left to need snowbird: the answer says so.
        #expect((rolledBack.json as? [String: Any])?["unmetDependencies"] as? [Any] != nil)
        #expect(try listed(repository, "staging").isEmpty)

        #expect(try repository.depot(["token", "revoke", "ci"]).status == 0)
        #expect(try call("api/v1/history", ci).status == 401)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAndClosingConnectionsClose() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "development", Self.snowbird]).status == 0)
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let port = try #require(URL(string: server.url)?.port)
        // Each connection is read until the server closes it; prints the status codes in order.
        let script = """
            import re, socket, sys
            def statuses(request):
                connection = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
                connection.sendall(request.encode())
                data = b''
                while True:
                    chunk = connection.recv(65536)
                    if not chunk: break
                    data += chunk
                return ','.join(re.findall(r'HTTP/1\\.[01] (\\d{3}) ', data.decode('latin-1')))
            # An API call (no token: 401) first, then two files, the last closing the connection:
            # the files are answered after the API call, not before it.
            print(statuses('GET /api/v1/history HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'
                'GET /dists/development/InRelease HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'
                'GET /dists/development/Release HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'))
            print(statuses('GET /dists/development/Release HTTP/1.0\\r\\n\\r\\n'))
            """
        let result = try TestSupport.run("/usr/bin/python3", ["-c", script, String(port)])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.text.split(separator: "\n") == ["401,200,200", "200"], "\(result.text)")
    }

    @Test func aTruncatedUploadLeavesNothingBehind() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let token = try repository.createToken("ci", allowing: ["push:development"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let before = try repository.snapshot()
        // Announce 20,672 bytes, send 8,000 and hang up.
        let port = try #require(URL(string: server.url)?.port)
        let script = """
            import re, socket, sys
            body = open(sys.argv[1], 'rb').read()
            connection = socket.create_connection(('127.0.0.1', int(sys.argv[2])))
            connection.sendall(('POST /api/v1/distributions/development/packages HTTP/1.1\\r\\nHost: x\\r\\n'
                'Authorization: Bearer ' + sys.argv[3] + '\\r\\nContent-Length: %d\\r\\n\\r\\n' % len(body)).encode())
            connection.sendall(body[:8000])
            connection.close()
            """
        let sent = try TestSupport.run(
            "/usr/bin/python3",
            ["-c", script, TestSupport.fixture("good/libsnow1_1.0~rc1-1_amd64.deb"), String(port), token])
        #expect(sent.status == 0, "\(sent.standardError)")
        // The server notices the hang-up and discards the upload.
        for _ in 0..<100 where try repository.snapshot() != before { usleep(50_000) }
        #expect(try repository.snapshot() == before)
        #expect(try HTTPAnswer(server.curl("healthz")).status == 200)
    }

    @Test func fiftyAptClientsAndConcurrentAPIPushesAllSucceed() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "development"] + TestSupport.fixtures(in: "good")).status == 0)
        let token = try repository.createToken("ci", allowing: ["push:development"])
        let packages = PackageBuilder()
        let builds = try (1...8).map { try packages.make("burst\($0)", "1.0-1") }
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let clients = try (0..<50).map { _ in try repository.aptClient("development", at: server.url) }
        defer { for client in clients { client.remove() } }

        let failures = Failures()
        let group = DispatchGroup()
        for client in clients {
            DispatchQueue.global().async(group: group) {
                do {
                    let update = try client.run(["update"])
                    let download = try client.run(["download", "hello-depot"], in: client.downloads)
                    if update.status != 0 || (update.text + update.standardError).contains("E:") || download.status != 0
                    {
                        failures.add("apt: \(update.text)\(update.standardError)\(download.standardError)")
                    }
                } catch {
                    failures.add("apt: \(error)")
                }
            }
        }
        for build in builds {
            DispatchQueue.global().async(group: group) {
                do {
                    let answer = try HTTPAnswer(
                        server.curl(
                            "api/v1/distributions/development/packages",
                            ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + build]))
                    if answer.status != 201 {
                        failures.add("push: \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
                    }
                } catch {
                    failures.add("push: \(error)")
                }
            }
        }
        group.wait()
        #expect(failures.all.isEmpty, "\(failures.all)")
        let listed = try listed(repository, "development")
        for number in 1...8 { #expect(listed.contains("burst\(number) 1.0-1 amd64")) }
        #expect(try repository.depot(["verify"]).status == 0)
    }
}

/// Failures collected from several threads.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []

    func add(_ failure: String) { lock.withLock { list.append(failure) } }
    var all: [String] { lock.withLock { list } }
}

/// depot serve behind Debian's caching proxy: every answer to a revalidation is true, so the
/// proxy never hands apt an index that does not match the Release it signed.
@Suite struct CachingProxyTests {
    @Test func aptThroughACachingProxySeesEveryQuickPublishWithoutAMismatch() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        // apt-cacher-ng 3.7 refuses to reach a port above 32767 ("Connection refused"),
        // where the kernel's own picks lie.
        var started: DepotServe?
        for _ in 0..<5 where started == nil {
            started = try? DepotServe(root: repository.root, port: Int.random(in: 20_000..<32_000))
        }
        let server = try #require(started)
        defer { server.stop() }
        let proxy = try AptCacherNG()
        defer { proxy.stop() }
        let apt = try AptClient(
            sources: ["staging", "production"].map { "deb [signed-by=\(repository.archiveKey)] \(server.url) \($0) main" })
        defer { apt.remove() }
        let options = ["-o", "Acquire::http::Proxy=\(proxy.proxy)", "-o", "Acquire::By-Hash=no"]
        let packages = PackageBuilder()
        for round in 0..<20 {
            let name = "quick\(round)"
            try #require(try repository.depot(["push", "staging", try packages.make(name, "1.0-1")]).status == 0)
            try #require(try repository.depot(["promote", name, "--from", "staging"]).status == 0)
            let update = try apt.run(options + ["update"])
            let messages = update.text + update.standardError
            #expect(update.status == 0 && !messages.contains("E:") && !messages.contains("W:"), "round \(round): \(messages)")
            #expect(!messages.contains("Hash Sum mismatch"), "round \(round): \(messages)")
        }
        // Once the proxy's second of freshness is over, apt sees the last round through it, and
        // fetches its package through it.
        usleep(1_500_000)
        let update = try apt.run(options + ["update"])
        #expect(update.status == 0 && !update.standardError.contains("W:"), "\(update.standardError)")
        let policy = try apt.run(["policy", "quick19"], program: "apt-cache")
        #expect(policy.text.contains("Candidate: 1.0-1"), "the proxy handed apt an old index: \(policy.text)")
        let fetched = try apt.run(options + ["install", "-y", "--download-only", "quick19"])
        #expect(fetched.status == 0, "\(fetched.standardError)")
    }
}
