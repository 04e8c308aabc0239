import ArgumentParser
import Foundation

/// The PostgreSQL store against SQLite, both publishing to a bucket (moto's server on
/// 127.0.0.1): what one change costs in a distribution of N, and how many concurrent pushes
/// one and two nodes sharing the PostgreSQL store take per second.
struct NodesBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "Import N, promote them, push and promote one more on PostgreSQL and SQLite; concurrent pushes on one and two nodes.",
        discussion: """
            Needs Debian's postgresql, GNU time and moto's server: apt-get install postgresql time; pip install 'moto[server]'
            Starts its own PostgreSQL server (as the postgres user, on 127.0.0.1) and a moto server per store.
            The corpus is the one `depot-bench repository` makes, kept in --work.
            """)

    @Option(help: "How many packages the distribution holds.")
    var count = 1_000

    @Option(help: "Working folder: corpus, signing key, repositories and the database.")
    var work = "/tmp/depot-bench"

    @Option(help: "How many pushes run at once in the throughput runs.")
    var concurrent = 32

    @Option(help: "Throughput runs on one node and on two, taken in turns.")
    var rounds = 3

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let corpus = try Corpus.ensure(count: count, in: work)
        let key = try SigningKey.ensure(in: work)
        let depot = try depotBesideBench()
        // Packages no run has pushed yet, for each throughput run: SQLite's, the warm-up of
        // the second node, and each round's on one node and on two.
        let batches = try (0..<(2 + 2 * rounds)).map { batch -> [String] in
            let directory = "\(work)/concurrent-\(batch)"
            let names = (1...concurrent).map { String(format: "bench-batch\(batch)-%03d", $0) }
            let files = names.map { "\(directory)/\($0)_1.0-1_amd64.deb" }
            if !files.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
                try? FileManager.default.removeItem(atPath: directory)
                try Corpus.build(names, into: directory)
            }
            return files
        }
        let postgres = try BenchPostgres(directory: "\(work)/postgres")
        defer { postgres.stop() }

        var changes: [(String, [Timed])] = []
        var throughput: [(String, [Double])] = []
        for store in ["sqlite", "postgresql"] {
            print("\(store): importing \(count) packages into the bucket, then pushing and promoting one more...")
            let moto = try Moto(log: "\(work)/moto-\(store).log")
            defer { moto.stop() }
            try shell("curl -sf -X PUT \(moto.endpoint)/bench >/dev/null")
            let environment =
                "env AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SHARED_CREDENTIALS_FILE=/nonexistent"
            var storeOption = ""
            if store == "postgresql" {
                try postgres.createDatabase("bench")
                storeOption = "--store \(postgres.url("bench"))"
            }
            let nodes = ["\(work)/nodes-\(store)-a", "\(work)/nodes-\(store)-b"]
            for node in nodes { try? FileManager.default.removeItem(atPath: node) }
            let node = nodes.map { "\(environment) '\(depot)' --root '\($0)'" }
            try shell(
                "\(node[0]) init \(storeOption) --sign-with \(key.fingerprint) --gnupg-home '\(key.home)' --architectures amd64 --distributions bench,prod --storage s3://bench/depot --s3-endpoint \(moto.endpoint) >/dev/null"
            )
            changes.append(
                (
                    store,
                    [
                        try Timed.run("ls -d '\(corpus.directory)'/*.deb | \(node[0]) push bench --files-from - >/dev/null"),
                        try Timed.run("\(node[0]) promote --all --from bench >/dev/null"),
                        try Timed.run("\(node[0]) push bench '\(corpus.extra)' >/dev/null"),
                        try Timed.run("\(node[0]) promote bench-extra --from bench >/dev/null"),
                    ]
                ))
            if store == "sqlite" {
                print("sqlite: \(concurrent) pushes at once into the distribution of \(count)...")
                throughput.append(("sqlite, one node", [try pushesPerSecond(batches[0], nodes: [node[0]])]))
            } else {
                try shell(
                    "\(node[1]) init --join \(storeOption) --storage s3://bench/depot --sign-with \(key.fingerprint) --gnupg-home '\(key.home)' >/dev/null"
                )
                // The second node's first publish compresses every chunk of the index anew (its
                // cache is its own): a cost of joining, not of each push.
                _ = try pushesPerSecond(batches[1], nodes: [node[1]])
                var oneNode: [Double] = []
                var twoNodes: [Double] = []
                for round in 0..<rounds {
                    print("postgresql, round \(round + 1) of \(rounds): \(concurrent) pushes at once on one node, then over two...")
                    oneNode.append(try pushesPerSecond(batches[2 + 2 * round], nodes: [node[0]]))
                    twoNodes.append(try pushesPerSecond(batches[3 + 2 * round], nodes: node))
                }
                throughput.append(("postgresql, one node", oneNode))
                throughput.append(("postgresql, two nodes", twoNodes))
            }
            for node in nodes { _ = try? shell("gpgconf --homedir '\(node)/.depot/gnupg' --kill gpg-agent") }
        }
        _ = try? shell("gpgconf --homedir '\(key.home)' --kill gpg-agent")

        print("")
        print("N = \(count), each store publishing to moto's S3 server on 127.0.0.1; wall, CPU, peak RSS")
        let titles = [
            "(a) import N into an empty distribution", "(b) promote all N into the next distribution",
            "(c) push one more into the distribution holding N", "(d) promote that one package into the other holding N",
        ]
        for (position, title) in titles.enumerated() {
            print(title)
            for (name, steps) in changes {
                print("  " + name.padding(toLength: 12, withPad: " ", startingAt: 0) + steps[position].columns)
            }
            if changes.count == 2 {
                print(String(format: "  postgresql takes %.2fx the time of sqlite", changes[1].1[position].wall / changes[0].1[position].wall))
            }
        }
        print("(e) \(concurrent) pushes of one package each, all at once: median (and each run)")
        for (name, rates) in throughput {
            let median = rates.sorted()[rates.count / 2]
            print(
                "  " + name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%6.2f pushes/s", median)
                    + " (" + rates.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")")
        }
    }

    /// Pushes each file with a command of its own, all at once, handed to the nodes in turn;
    /// every push must succeed.
    private func pushesPerSecond(_ files: [String], nodes: [String]) throws -> Double {
        let commands = files.enumerated().map { position, file in
            "\(nodes[position % nodes.count]) push bench '\(file)' >/dev/null 2>>'\(work)/nodes-errors.log' || echo failed"
        }
        let script = "\(work)/nodes-pushes.sh"
        try (commands.map { "(\($0)) &" } + ["wait"]).joined(separator: "\n").write(
            toFile: script, atomically: true, encoding: .utf8)
        let start = Date()
        let output = String(decoding: try shell("sh '\(script)'"), as: UTF8.self)
        let elapsed = Date().timeIntervalSince(start)
        guard !output.contains("failed") else {
            throw BenchmarkError("a concurrent push failed; see \(work)/nodes-errors.log")
        }
        return Double(files.count) / elapsed
    }
}

/// Debian's PostgreSQL run as the `postgres` user from a folder of its own, on a free port of
/// 127.0.0.1, with trust authentication (the benchmark measures the store, not logins).
final class BenchPostgres {
    private let process = Process()
    private let binaries: String
    private let directory: String
    let port: Int

    init(directory: String) throws {
        guard let version = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last else {
            throw BenchmarkError("PostgreSQL is missing: apt-get install postgresql")
        }
        binaries = "/usr/lib/postgresql/\(version)/bin"
        self.directory = directory
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try shell("chown postgres:postgres '\(directory)'")
        try shell("runuser -u postgres -- \(binaries)/initdb -D '\(directory)/data' -U depot -A trust >/dev/null")
        port = Int.random(in: 20_000..<32_000)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        process.arguments = [
            "-u", "postgres", "--", "\(binaries)/postgres", "-D", "\(directory)/data", "-p", String(port), "-k", directory,
            "-c", "listen_addresses=127.0.0.1",
        ]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<200 {
            if (try? shell("\(binaries)/pg_isready -q -h 127.0.0.1 -p \(port)")) != nil { return }
            usleep(50_000)
        }
        stop()
        throw BenchmarkError("PostgreSQL did not start in \(directory)")
    }

    func url(_ database: String) -> String { "postgresql://depot@127.0.0.1:\(port)/\(database)" }

    func createDatabase(_ name: String) throws {
        try shell("\(binaries)/psql -q -h 127.0.0.1 -p \(port) -U depot -d postgres -c 'CREATE DATABASE \(name)' >/dev/null")
    }

    func stop() {
        if process.isRunning {
            _ = try? shell("runuser -u postgres -- \(binaries)/pg_ctl -D '\(directory)/data' -m fast stop >/dev/null")
            process.waitUntilExit()
        }
    }
}
