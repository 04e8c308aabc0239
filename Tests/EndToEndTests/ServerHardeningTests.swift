import DepotTestSupport
import Foundation
import Testing

/// What a misbehaving or old client can send `depot serve`, and what it must answer.
@Suite(.enabled(if: TestSupport.hasProgram("curl"), "needs curl"))
struct ServerHardeningTests {
    /// Sends raw requests on one connection each; what came back before the server closed it,
    /// or nil for a connection still open after `wait` seconds.
    static func raw(_ requests: [String], port: Int, wait: Double = 5) throws -> [String?] {
        let script = """
            import socket, sys, json
            answers = []
            for request in json.loads(sys.argv[2]):
                connection = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
                connection.settimeout(float(sys.argv[3]))
                connection.sendall(request.encode())
                data = b''
                try:
                    while True:
                        piece = connection.recv(65536)
                        if not piece:
                            break
                        data += piece
                    answers.append(data.decode('latin-1'))
                except socket.timeout:
                    answers.append(None)
                connection.close()
            print(json.dumps(answers))
            """
        let requests = String(decoding: try JSONSerialization.data(withJSONObject: requests), as: UTF8.self)
        let result = try TestSupport.run("/usr/bin/python3", ["-c", script, String(port), requests, String(wait)])
        guard result.status == 0 else { throw TestSupportError("python3: \(result.standardError)") }
        return try JSONSerialization.jsonObject(with: result.standardOutput) as? [String?] ?? []
    }

    @Test func oddRequestsGetAnswersThatEndAndFollowRFC9110() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let token = try repository.createToken("ops", allowing: ["promote:*"])
        try repository.editConfiguration(replacing: "Components: main", with: "Components: main\nDashboard: public")
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let port = try #require(URL(string: server.url)?.port)

        // HTTP/1.0 without keep-alive, and CONNECT: answered with an end, then closed.
        let answers = try Self.raw(
            [
                "GET /healthz HTTP/1.0\r\n\r\n", "GET / HTTP/1.0\r\n\r\n", "GET /api/v1/history HTTP/1.0\r\n\r\n",
                "GET /archive-key.asc HTTP/1.0\r\n\r\n",
                "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
            ], port: port)
        let statuses = answers.map { $0?.split(separator: "\r\n").first.map(String.init) }
        #expect(
            statuses == [
                "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized", "HTTP/1.0 200 OK",
                "HTTP/1.1 405 Method Not Allowed",
            ], "\(answers)")

        func status(_ path: String, _ arguments: [String] = []) throws -> HTTPAnswer {
            try HTTPAnswer(server.curl(path, arguments))
        }
        #expect(try status("", ["-I"]).status == 200)
        for method in ["PUT", "DELETE", "TRACE", "POST"] {
            let answer = try status("dists/development/Release", ["-X", method, "--data", "x"])
            #expect(answer.status == 405 && answer.headers["allow"] == "GET, HEAD", "\(method): \(answer.status)")
        }
        #expect(try status("archive-key.asc/").status == 404)
        let key = try #require(FileManager.default.contents(atPath: repository.archiveKey))
        let huge = try status("archive-key.asc", ["-H", "Range: bytes=-99999999999999999999999"])
        #expect(huge.status == 206 && huge.body == key)
        for malformed in ["bytes=-abc", "bytes=1-x", "bytes=--5", "lines=1-2"] {
            let answer = try status("archive-key.asc", ["-H", "Range: \(malformed)"])
            #expect(answer.status == 200 && answer.body == key, "\(malformed): \(answer.status)")
        }
        let eTag = try #require(try status("archive-key.asc", ["-I"]).headers["etag"])
        #expect(try status("archive-key.asc", ["-H", "If-None-Match: W/\(eTag)"]).status == 304)
        #expect(
            try status("archive-key.asc", ["-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"]).status == 200)

        let large = repository.root.appendingPathComponent("large.json")
        try Data(repeating: UInt8(ascii: "a"), count: 2 << 20).write(to: large)
        let tooLarge = try status(
            "api/v1/promotions", ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + large.path])
        #expect(tooLarge.status == 413 && tooLarge.error == "too-large")
    }

    /// A client that hangs up mid-upload is not a failure of the server.
    @Test func aClientThatHangsUpIsNotLoggedAsAServerError() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let token = try repository.createToken("ci", allowing: ["push:development"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let port = try #require(URL(string: server.url)?.port)
        _ = try Self.raw(
            [
                "POST /api/v1/distributions/development/packages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)"
                    + "\r\nContent-Length: 20000\r\n\r\n!<arch>\n"
            ], port: port, wait: 0.5)
        for _ in 0..<100 where !server.logText.contains("POST /api/v1/distributions/development/packages") {
            usleep(20_000)
        }
        let line = server.logText.split(separator: "\n").first { $0.contains("POST /api/v1/") } ?? ""
        #expect(line.contains(" 499 "), "\(server.logText)")
    }

    /// Connections that send part of a request head and wait used to hold the server until
    /// it ran out of descriptors: now the idlest make room for new ones, and each is closed
    /// once the request timeout has passed.
    @Test func connectionsThatNeverSendARequestCannotShutOthersOut() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let server = try DepotServe(
            root: repository.root, arguments: ["--max-connections", "20", "--request-timeout", "2"])
        defer { server.stop() }
        let port = try #require(URL(string: server.url)?.port)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let report = repository.root.appendingPathComponent("slow-report").path
        holder.arguments = [
            "-c",
            """
            import socket, sys, time
            connections = []
            for _ in range(60):
                connection = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
                connection.sendall(b'GET /dists/development/Release HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ')
                connections.append(connection)
            start = time.time()
            closed = 0
            for connection in connections:
                connection.settimeout(max(0.1, 10 - (time.time() - start)))
                try:
                    closed += connection.recv(1) == b''
                except ConnectionResetError:
                    closed += 1
                except socket.timeout:
                    pass
            open(sys.argv[2], 'w').write('%d %.1f' % (closed, time.time() - start))
            """,
            String(port), report,
        ]
        try holder.run()
        usleep(500_000)
        // While 60 connections hang, requests are answered.
        for _ in 0..<5 {
            #expect(try HTTPAnswer(server.curl("healthz", ["-m", "5"])).status == 200)
        }
        holder.waitUntilExit()
        let result = try String(contentsOfFile: report, encoding: .utf8).split(separator: " ")
        // Every slow connection was closed by the server, none held until the script gave up.
        #expect(result.first == "60", "\(result)")
        #expect((Double(result.last ?? "") ?? 99) < 6, "\(result)")
        #expect(try HTTPAnswer(server.curl("healthz")).status == 200)
    }

    /// `Dashboard: private` (the default) keeps listings, notes and users off `/` for whoever
    /// reaches it without signing in; `Dashboard: public` shows them to anyone.
    @Test func aPrivateDashboardShowsNothingUntilSignedIn() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(
            try repository.depot(["push", "development", try packages.make("secretive", "1.0"), "--note", "INC-9"])
                .status == 0)
        let closed = try DepotServe(root: repository.root)
        for path in ["", "packages/secretive"] {
            let refused = try HTTPAnswer(closed.curl(path))
            let page = String(decoding: refused.body, as: UTF8.self)
            #expect(refused.status == 303 && refused.headers["location"] == "/login", "\(path): \(refused.status)")
            #expect(!page.contains("secretive") && !page.contains("INC-9"))
        }
        #expect(try HTTPAnswer(closed.curl("", ["-I"])).status == 303)
        let signIn = String(decoding: try HTTPAnswer(closed.curl("login")).body, as: UTF8.self)
        #expect(signIn.contains("This dashboard is private") && signIn.contains("name=\"token\""))
        closed.stop()

        try repository.editConfiguration(replacing: "Components: main", with: "Components: main\nDashboard: public")
        let open = try DepotServe(root: repository.root)
        defer { open.stop() }
        let shown = try HTTPAnswer(open.curl(""))
        #expect(shown.status == 200 && String(decoding: shown.body, as: UTF8.self).contains("secretive"))

        try repository.editConfiguration(replacing: "Dashboard: public", with: "Dashboard: secret")
        let invalid = try repository.depot(["list"])
        #expect(invalid.standardError.contains("Dashboard must be 'public' or 'private', not 'secret'"))
    }

    /// The request timeout bounds what the client takes, never what the server takes to
    /// answer: an API push waiting for the lock longer than it is still answered.
    @Test func aSlowAnswerIsNotCutShortByTheRequestTimeout() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        let hello = try packages.make("hello", "1.0")
        let token = try repository.createToken("ci", allowing: ["push:development"])
        let server = try DepotServe(root: repository.root, arguments: ["--request-timeout", "1"])
        defer { server.stop() }
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [repository.root.appendingPathComponent(".depot/lock").path, "sleep", "3"]
        try holder.run()
        defer { holder.waitUntilExit() }
        usleep(300_000)
        let answer = try HTTPAnswer(
            server.curl(
                "api/v1/distributions/development/packages",
                ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + hello]))
        #expect(answer.status == 201, "\(String(decoding: answer.body, as: UTF8.self))")
    }

    /// A change that waits for the repository is not made once its client has hung up: the
    /// client was told nothing, so it would push again, or think the push failed.
    @Test func aChangeWhoseClientGaveUpIsNotMadeLater() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        let hello = try packages.make("hello", "1.0")
        let token = try repository.createToken("ci", allowing: ["push:development"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [repository.root.appendingPathComponent(".depot/lock").path, "sleep", "3"]
        try holder.run()
        usleep(300_000)
        let gaveUp = try server.curl(
            "api/v1/distributions/development/packages",
            ["-m", "1", "-H", "Authorization: Bearer \(token)", "--data-binary", "@" + hello])
        #expect(gaveUp.status == 28, "curl should have timed out: \(gaveUp.standardError)")
        holder.waitUntilExit()
        usleep(500_000)
        #expect(try listed(repository, "development").isEmpty)
        #expect(server.logText.contains("POST /api/v1/distributions/development/packages 499"), "\(server.logText)")
    }
}
