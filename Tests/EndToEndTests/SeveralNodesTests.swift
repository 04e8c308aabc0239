import DepotTestSupport
import Foundation
import Testing

/// Two Depot nodes, each with its own root, sharing one PostgreSQL store (Debian's server on
/// 127.0.0.1) and one bucket (moto's server): changes made through either node, from the
/// command line or the API, all land once, and apt reads one consistent tree throughout.
@Suite(
    .enabled(if: TestSupport.hasProgram("apt-get"), "needs apt-get"),
    .serialized, .offThePool)
final class SeveralNodesTests {
    let postgres: PostgresServer

    init() throws { postgres = try PostgresServer() }

    deinit { postgres.stop() }

    /// Node A made with `init --store --storage`, node B with `init --join`.
    struct Cluster: @unchecked Sendable {
        let moto: MotoServer
        let nodes: [ScratchRepository]
        let keyFile: URL
        let environment: [String: String]
        let storeURL: String

        init(postgres: PostgresServer, database: String) throws {
            try postgres.createDatabase(database)
            moto = try MotoServer()
            try moto.createBucket("apt")
            environment = postgres.environment.merging(MotoServer.clientEnvironment) { $1 }
            storeURL = postgres.url(database)
            let first = try ScratchRepository(
                [
                    "--store", storeURL, "--storage", "s3://apt/depot", "--s3-endpoint", moto.endpoint,
                    "--s3-acl", "public-read",
                ], environment: environment)
            let configuration = try String(contentsOf: first.root.appendingPathComponent("depot.conf"), encoding: .utf8)
            let fingerprint = try #require(
                configuration.split(separator: "\n").first { $0.hasPrefix("Sign-With:") }?.split(separator: " ").last)
            let second = try ScratchRepository(
                [
                    // The same endpoint as the first node's: accepted.
                    "--join", "--store", storeURL, "--storage", "s3://apt/depot", "--s3-endpoint", moto.endpoint,
                    "--sign-with", String(fingerprint),
                    "--gnupg-home", first.root.appendingPathComponent(".depot/gnupg").path,
                ], environment: environment)
            nodes = [first, second]
            keyFile = first.root.appendingPathComponent("archive-key.asc")
            try first.depot(["export-key"]).standardOutput.write(to: keyFile)
        }

        var treeURL: String { "\(moto.endpoint)/apt/depot" }

        func aptClient(_ distribution: String) throws -> AptClient {
            try nodes[0].aptClient(distribution, at: treeURL, trusting: keyFile.path)
        }

        func remove() {
            for node in nodes { node.remove() }
            moto.stop()
        }
    }

    @Test func changesThroughBothNodesAndBothFrontsAllLandOnce() throws {
        let cluster = try Cluster(postgres: postgres, database: "landing")
        defer { cluster.remove() }
        let (a, b) = (cluster.nodes[0], cluster.nodes[1])
        let builder = PackageBuilder()
        let promoted = try (0..<8).map { try builder.make("promoted\($0)", "1.0-1") }
        try #require(try a.depot(["push", "development"] + promoted).status == 0)
        // Tokens live in the store: made on one node, accepted by both.
        let token = try a.createToken("ci", allowing: ["push:development", "promote:staging"])
        let servers = try cluster.nodes.map { try DepotServe(root: $0.root, environment: cluster.environment) }
        defer { for server in servers { server.stop() } }

        let failures = Failures()
        let stop = Failures()
        let clients = try ["development", "staging"].map { try cluster.aptClient($0) }
        defer { for client in clients { client.remove() } }
        let updates = updateLoops(clients, failures: failures, stop: stop)

        let pushed = try (0..<16).map { try builder.make("pushed\($0)", "1.0-1") }
        let refused = Failures()
        DispatchQueue.concurrentPerform(iterations: 24) { job in
            // Each change goes to node job % 2, from the command line or (every other pair) the API.
            let node = job % 2
            let overHTTP = job % 4 >= 2
            do {
                if job < 16 {
                    if overHTTP {
                        let answer = try HTTPAnswer(
                            servers[node].curl(
                                "api/v1/distributions/development/packages",
                                ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + pushed[job]]))
                        if answer.status != 201 { refused.add("push \(job): \(answer.status) \(String(decoding: answer.body, as: UTF8.self))") }
                    } else {
                        let result = try cluster.nodes[node].depot(["push", "development", pushed[job]])
                        if result.status != 0 { refused.add("push \(job): \(result.standardError)") }
                    }
                } else {
                    let package = "promoted\(job - 16)"
                    if overHTTP {
                        let answer = try HTTPAnswer(
                            servers[node].curl(
                                "api/v1/promotions",
                                [
                                    "-H", "Authorization: Bearer \(token)", "--data-binary",
                                    #"{"packages": ["\#(package)"], "from": "development"}"#,
                                ]))
                        if answer.status != 200 { refused.add("promote \(package): \(answer.status) \(String(decoding: answer.body, as: UTF8.self))") }
                    } else {
                        let result = try cluster.nodes[node].depot(["promote", package, "--from", "development"])
                        if result.status != 0 { refused.add("promote \(package): \(result.standardError)") }
                    }
                }
            } catch {
                refused.add("job \(job): \(error)")
            }
        }
        stop.add("stop")
        updates.wait()
        #expect(refused.all.isEmpty, "\(refused.all)")
        #expect(failures.all.isEmpty, "apt-get update failed while the nodes changed the tree: \(failures.all.prefix(3))")

        let expectedDevelopment = Set((0..<8).map { "promoted\($0) 1.0-1 amd64" } + (0..<16).map { "pushed\($0) 1.0-1 amd64" })
        let expectedStaging = Set((0..<8).map { "promoted\($0) 1.0-1 amd64" })
        for node in cluster.nodes {
            #expect(try listed(node, "development") == expectedDevelopment)
            #expect(try listed(node, "staging") == expectedStaging)
            let verify = try node.depot(["verify"])
            #expect(verify.status == 0 && !verify.text.contains("not yet published"), "\(verify.text)\(verify.standardError)")
        }
        // Each change once in history: one entry per push and per promotion.
        let changed = try b.history().flatMap { entry in
            entry.changes.map { "\(entry.operation) \(entry.distribution) \($0.package)" }
        }
        #expect(changed.count == 8 + 16 + 8, "\(changed)")
        #expect(Set(changed).count == changed.count, "\(changed)")

        // apt reads the last state from the bucket.
        for (client, distribution) in zip(clients, ["development", "staging"]) {
            #expect(try client.run(["update"]).status == 0)
            #expect(try client.candidate("promoted7") == "1.0-1", "\(distribution)")
        }
        #expect(try clients[0].candidate("pushed15") == "1.0-1")
    }

    /// A node killed while it publishes a change it recorded: the other node's next command
    /// publishes it, and apt never notices.
    @Test func aNodeKilledMidPublishIsCompletedByTheOther() throws {
        let cluster = try Cluster(postgres: postgres, database: "killing")
        defer { cluster.remove() }
        let (a, b) = (cluster.nodes[0], cluster.nodes[1])
        let builder = PackageBuilder()
        let token = try a.createToken("ci", allowing: ["push:development"])
        // One client checks each round; another (apt locks its own state) updates in a loop.
        let client = try cluster.aptClient("development")
        let looping = try cluster.aptClient("development")
        defer { for apt in [client, looping] { apt.remove() } }
        let failures = Failures()
        let stop = Failures()
        let updates = updateLoops([looping], failures: failures, stop: stop)

        /// Pushes package `name` through a `depot serve` of node B and kills that server as soon
        /// as the change is recorded (node B is then publishing it, or has just done so); whether
        /// it left the change unpublished.
        func pushThroughNodeBKilledOnceRecorded(_ name: String) throws -> Bool {
            let server = try DepotServe(root: b.root, environment: cluster.environment)
            let upload = Process()
            upload.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            upload.arguments = [
                "-s", "-o", "/dev/null", "-H", "Authorization: Bearer \(token)", "--data-binary",
                "@" + (try builder.make(name, "1.0-1")), server.url + "api/v1/distributions/development/packages",
            ]
            try upload.run()
            var recorded = false
            for _ in 0..<400 where !recorded {
                recorded = try postgres.psql(
                    "SELECT count(*) FROM history WHERE changes LIKE '%\(name)%'", database: "killing"
                ).hasPrefix("1")
                if !recorded { usleep(5_000) }
            }
            server.killNow()
            upload.waitUntilExit()
            #expect(recorded, "\(name): the push was never recorded")
            return !(try allPublished())
        }
        func allPublished() throws -> Bool {
            try postgres.psql("SELECT count(*) FROM publication WHERE recorded > published", database: "killing")
                .hasPrefix("0")
        }

        var killedMidPublish = 0
        for round in 0..<3 {
            if try pushThroughNodeBKilledOnceRecorded("killed\(round)") { killedMidPublish += 1 }
            // The other node's next change publishes both.
            let next = try a.depot(["push", "development", try builder.make("after\(round)", "1.0-1")])
            #expect(next.status == 0, "\(next.standardError)")
            #expect(try allPublished())
            #expect(try client.run(["update"]).status == 0)
            #expect(try client.candidate("killed\(round)") == "1.0-1")
        }
        // With no further change: node A's server publishes what node B left, by itself.
        let serverA = try DepotServe(root: a.root, arguments: ["--republish-every", "1"], environment: cluster.environment)
        defer { serverA.stop() }
        var leftBehind = false
        for round in 3..<8 where !leftBehind {
            leftBehind = try pushThroughNodeBKilledOnceRecorded("killed\(round)")
            guard leftBehind else { continue }
            var published = false
            for _ in 0..<100 where !published {
                published = try allPublished()
                if !published { usleep(100_000) }
            }
            #expect(published, "node A's server did not publish what node B left")
            #expect(try client.run(["update"]).status == 0)
            #expect(try client.candidate("killed\(round)") == "1.0-1")
        }
        #expect(leftBehind, "no round killed node B before its publish finished")
        stop.add("stop")
        updates.wait()
        #expect(killedMidPublish > 0, "no round killed node B before its publish finished")
        #expect(failures.all.isEmpty, "apt-get update failed: \(failures.all.prefix(3))")
        let verify = try a.depot(["verify"])
        #expect(verify.status == 0, "\(verify.text)\(verify.standardError)")
    }

    /// A node stopped in the middle of a publish, whose session the server then ends (as a
    /// partition would), wakes after another node published a later state: its `InRelease`
    /// is refused, and the tree keeps the later state.
    @Test func aNodeThatStallsMidPublishReplacesNothingNewer() throws {
        let cluster = try Cluster(postgres: postgres, database: "stalling")
        defer { cluster.remove() }
        let (a, b) = (cluster.nodes[0], cluster.nodes[1])
        let builder = PackageBuilder()
        let client = try cluster.aptClient("development")
        defer { client.remove() }
        func servedInRelease() throws -> String {
            try TestSupport.run("curl", ["-sf", "\(cluster.treeURL)/dists/development/InRelease"]).text
        }
        var fenced = false
        for round in 0..<5 where !fenced {
            // A publish just now makes the next one wait out this second before its InRelease:
            // the window in which node A is stopped.
            try #require(try b.depot(["publish", "development"]).status == 0)
            let before = cluster.moto.requestLines().count
            let stalled = Process()
            stalled.executableURL = URL(fileURLWithPath: TestSupport.depotExecutable)
            stalled.arguments = ["--root", a.root.path, "push", "development", try builder.make("stale\(round)", "1.0-1")]
            stalled.environment = cluster.environment
            stalled.standardOutput = FileHandle.nullDevice
            stalled.standardError = FileHandle.nullDevice
            try stalled.run()
            var stopped = false
            for _ in 0..<5_000 where stalled.isRunning {
                let lines = cluster.moto.requestLines().dropFirst(before)
                if lines.contains(where: { $0.hasPrefix("PUT /apt/depot/dists/development/InRelease") }) { break }
                if lines.contains(where: { $0.hasPrefix("PUT /apt/depot/dists/development/Release.gpg") }) {
                    kill(stalled.processIdentifier, SIGSTOP)
                    stopped = true
                    break
                }
                usleep(1_000)
            }
            // moto logs a request once it has answered it: give an InRelease that node A sent
            // just before the stop time to reach the log, or this round would take a publish
            // that went through for a stalled one.
            if stopped { usleep(300_000) }
            let tooLate = cluster.moto.requestLines().dropFirst(before).contains {
                $0.hasPrefix("PUT /apt/depot/dists/development/InRelease")
            }
            guard stopped && !tooLate else {
                kill(stalled.processIdentifier, SIGCONT)
                stalled.waitUntilExit()
                continue
            }
            // The stopped node's sessions end: its claim on the publish goes with them.
            try postgres.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'stalling' AND pid <> pg_backend_pid()")
            // Node B publishes a later state: node A's recorded change, and one of its own.
            let newer = try b.depot(["push", "development", try builder.make("newer\(round)", "1.0-1")])
            #expect(newer.status == 0, "\(newer.standardError)")
            let later = try servedInRelease()
            #expect(later.contains("BEGIN PGP SIGNED MESSAGE"))

            kill(stalled.processIdentifier, SIGCONT)
            stalled.waitUntilExit()
            #expect(stalled.terminationStatus != 0, "the stalled node's publish went through")
            #expect(try servedInRelease() == later, "the stalled node replaced a later InRelease")
            #expect(try client.run(["update"]).status == 0)
            #expect(try client.candidate("newer\(round)") == "1.0-1")
            #expect(try client.candidate("stale\(round)") == "1.0-1")
            fenced = true
        }
        #expect(fenced, "node A was never stopped between its Release.gpg and its InRelease")
        let verify = try a.depot(["verify"])
        #expect(verify.status == 0 && !verify.text.contains("not yet published"), "\(verify.text)\(verify.standardError)")
    }

    /// A node whose depot.conf differs from the recorded configuration changes nothing, and
    /// says which field differs; joining refuses a store without a repository and options
    /// that contradict the recorded configuration.
    @Test func nodesAgreeOnTheConfigurationOrChangeNothing() throws {
        let cluster = try Cluster(postgres: postgres, database: "agreeing")
        defer { cluster.remove() }
        let (a, b) = (cluster.nodes[0], cluster.nodes[1])
        let builder = PackageBuilder()
        try #require(try a.depot(["push", "development", try builder.make("agreed", "1.0-1")]).status == 0)

        try b.editConfiguration(replacing: "Distribution: production", with: "Distribution: production\nKeep-Versions: 3")
        let history = try a.depot(["history", "--json"]).standardOutput
        let refused = try b.depot(["push", "development", try builder.make("refused", "1.0-1")])
        #expect(refused.status != 0)
        #expect(refused.standardError.hasPrefix("depot: error: "), "\(refused.standardError)")
        #expect(refused.standardError.contains("Keep-Versions of production: '3' here, none in the store"), "\(refused.standardError)")
        #expect(refused.standardError.split(separator: "\n").count == 1)
        #expect(try a.depot(["history", "--json"]).standardOutput == history)
        // Reading still works.
        #expect(try listed(b, "development") == ["agreed 1.0-1 amd64"])

        // Recorded for all: now node A is the one that differs, until it gets the same file.
        #expect(try b.depot(["store", "record-configuration"]).status == 0)
        let stale = try a.depot(["promote", "agreed", "--from", "development"])
        #expect(stale.standardError.contains("Keep-Versions of production: none here, '3' in the store"), "\(stale.standardError)")
        try a.editConfiguration(replacing: "Distribution: production", with: "Distribution: production\nKeep-Versions: 3")
        #expect(try a.depot(["promote", "agreed", "--from", "development"]).status == 0)

        try postgres.createDatabase("empty")
        // A repository whose tree is a public/ of its first node.
        try postgres.createDatabase("localtree")
        let local = try ScratchRepository(["--store", postgres.url("localtree")], environment: cluster.environment)
        defer { local.remove() }
        let configuration = try String(contentsOf: a.root.appendingPathComponent("depot.conf"), encoding: .utf8)
        let fingerprint = String(
            configuration.split(separator: "\n").first { $0.hasPrefix("Sign-With:") }!.split(separator: " ").last!)
        let gnupg = a.root.appendingPathComponent(".depot/gnupg").path
        let cases: [([String], String)] = [
            (["--store", postgres.url("empty")], "holds no repository to join"),
            (["--store", cluster.storeURL, "--storage", "s3://other/depot"], "publishes to s3://apt/depot"),
            (["--store", cluster.storeURL, "--sign-with", "0123456789ABCDEF0123456789ABCDEF01234567"], "signs with \(fingerprint)"),
            (["--storage", "s3://apt/depot"], "--join needs --store"),
            (
                ["--store", cluster.storeURL, "--s3-endpoint", "http://127.0.0.1:1"],
                "--s3-endpoint http://127.0.0.1:1: the repository in \(cluster.storeURL) reaches its bucket at \(cluster.moto.endpoint)"
            ),
            (["--store", postgres.url("localtree")], "publishes to public/ on its first node, so it cannot take another node"),
        ]
        for (arguments, message) in cases {
            let root = try TestSupport.makeTemporaryDirectory("node")
            defer { try? FileManager.default.removeItem(at: root) }
            let result = try TestSupport.run(
                TestSupport.depotExecutable,
                ["--root", root.path, "init", "--join", "--gnupg-home", gnupg] + arguments, environment: cluster.environment)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty, "\(arguments) left files")
        }
    }

    @Test func webhooksGoOutInOrderFromEitherNodeAndTheLivingNodeTakesOverFromADeadOne() throws {
        let cluster = try Cluster(postgres: postgres, database: "webhooks")
        defer { cluster.remove() }
        let (a, b) = (cluster.nodes[0], cluster.nodes[1])
        let receiver = try WebhookReceiver(mode: "fail-first:2")
        for node in cluster.nodes { try node.addToConfiguration("Webhook: \(receiver.url)\n") }
        try #require(try a.depot(["store", "record-configuration"]).status == 0)
        let servers = try cluster.nodes.map { try DepotServe(root: $0.root, environment: cluster.environment) }
        defer { for server in servers { server.stop() } }
        let builder = PackageBuilder()
        for index in 0..<6 {
            let node = cluster.nodes[index % 2]
            try #require(try node.depot(["push", "development", try builder.make("relay\(index)", "1.0-1")]).status == 0)
        }
        // Node A dies, whatever it holds; B delivers the rest, and what A was attempting once
        // A's lease runs out.
        usleep(1_500_000)
        servers[0].killNow()
        for index in 6..<8 {
            try #require(try b.depot(["push", "development", try builder.make("relay\(index)", "1.0-1")]).status == 0)
        }
        let delivered = try b.waitForDeliveries(within: 90)
        #expect(delivered, "\((try? b.webhookDeliveries()) ?? [])")
        let history = try b.history().reversed().map { Int($0.id) }
        #expect(history.count == 8)
        let acknowledged = WebhookTests.acknowledged(receiver.requests(), failingFirst: 2)
        var firsts: [Int] = []
        for id in acknowledged where firsts.last != id { firsts.append(id) }
        #expect(firsts == history)
        // One node at a time: a change is acknowledged twice at most where a node died between
        // the answer and its record.
        #expect(acknowledged.count <= history.count + 1, "\(acknowledged)")
    }
}
