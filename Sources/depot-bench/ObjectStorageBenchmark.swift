import ArgumentParser
import Foundation

/// Depot against aptly publishing the same corpus to the same S3-compatible server (moto's,
/// on 127.0.0.1): wall time, CPU, peak memory and the requests each step sends.
struct ObjectStorageBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bucket",
        abstract: "Import N packages into a bucket, promote them, push and promote one more: Depot and aptly.",
        discussion: """
            Needs aptly, GNU time and moto's server: apt-get install aptly time; pip install 'moto[server]'
            Each contender publishes to a moto server of its own, started empty for it; then curl PUTs the corpus alone, the server's floor.
            The corpus is the one `depot-bench repository` makes, kept in --work.
            """)

    @Option(help: "How many packages the corpus holds.")
    var count = 1_000

    @Option(help: "Working folder: corpus, signing key and repositories.")
    var work = "/tmp/depot-bench"

    @Option(help: "Contenders to run, comma-separated.")
    var contenders = "depot,aptly"

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let corpus = try Corpus.ensure(count: count, in: work)
        let key = try SigningKey.ensure(in: work)
        let depot = try depotBesideBench()
        // A fresh server for each contender: moto slows down as it fills.
        func freshServer() throws -> Moto {
            let server = try Moto(log: "\(work)/moto.log")
            try shell("curl -sf -X PUT \(server.endpoint)/bench >/dev/null")
            return server
        }

        var rows: [(String, [Step])] = []
        for contender in contenders.split(separator: ",").map(String.init) {
            let directory = "\(work)/\(contender)-bucket-\(count)"
            try? FileManager.default.removeItem(atPath: directory)
            print("\(contender): importing \(count) packages into the bucket, promoting them, pushing and promoting one more...")
            let server = try freshServer()
            defer { server.stop() }
            rows.append(
                (contender, try run(contender, in: directory, corpus: corpus, key: key, depot: depot, server: server)))
            _ = try? shell("gpgconf --homedir '\(directory)/.depot/gnupg' --kill gpg-agent")
        }
        _ = try? shell("gpgconf --homedir '\(key.home)' --kill gpg-agent")
        print("the server's floor: \(count) bare PUTs of the corpus by curl, 8 at a time...")
        let floorServer = try freshServer()
        defer { floorServer.stop() }
        let floor = try uploadFloor(corpus: corpus, server: floorServer)

        print("")
        print("N = \(count), to moto's S3 server on 127.0.0.1; wall, CPU, peak RSS, requests")
        let titles = [
            "(a) import N into an empty distribution and publish to the bucket",
            "(b) promote all N into the next distribution",
            "(c) push one more into the distribution holding N",
            "(d) promote that one package into the distribution holding N",
        ]
        for (position, title) in titles.enumerated() {
            print(title)
            for (name, steps) in rows {
                let step = steps[position]
                print("  " + name.padding(toLength: 10, withPad: " ", startingAt: 0) + step.timed.columns
                    + String(format: " %7d requests", step.requests))
            }
            if position == 0 {
                print("  " + "curl".padding(toLength: 10, withPad: " ", startingAt: 0) + floor.timed.columns
                    + String(format: " %7d requests (the PUTs alone: no client can import faster)", floor.requests))
            }
            if let depotSteps = rows.first(where: { $0.0 == "depot" })?.1 {
                for (name, steps) in rows where name != "depot" {
                    print(String(format: "  depot is %.1fx faster than %@", steps[position].timed.wall / depotSteps[position].timed.wall, name))
                }
            }
        }
    }

    /// The corpus PUT, unsigned (moto takes that), by the leanest client there is: what the
    /// server itself takes to store N objects.
    private func uploadFloor(corpus: Corpus, server: Moto) throws -> Step {
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.directory).filter { $0.hasSuffix(".deb") }
        let configuration = files.map { name in
            "upload-file = \"\(corpus.directory)/\(name)\"\nurl = \"\(server.endpoint)/bench/floor/\(name)\"\noutput = \"/dev/null\"\n"
        }.joined()
        let path = "\(work)/floor.curl"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        let before = server.requestCount()
        let timed = try Timed.run("curl -s -Z --parallel-max 8 -K '\(path)' >/dev/null 2>&1")
        return Step(timed: timed, requests: server.requestCount() - before)
    }

    struct Step {
        var timed: Timed
        var requests: Int
    }

    private func run(
        _ contender: String, in directory: String, corpus: Corpus, key: SigningKey, depot: String, server: Moto
    ) throws -> [Step] {
        func step(_ command: String) throws -> Step {
            let before = server.requestCount()
            let timed = try Timed.run(command)
            return Step(timed: timed, requests: server.requestCount() - before)
        }
        let credentials = "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SHARED_CREDENTIALS_FILE=/nonexistent"
        switch contender {
        case "depot":
            let depot = "env \(credentials) '\(depot)' --root '\(directory)'"
            try shell(
                "\(depot) init --sign-with \(key.fingerprint) --gnupg-home '\(key.home)' --architectures amd64 --distributions bench,prod --storage s3://bench/depot --s3-endpoint \(server.endpoint) >/dev/null"
            )
            return [
                try step("ls -d '\(corpus.directory)'/*.deb | \(depot) push bench --files-from - >/dev/null"),
                try step("\(depot) promote --all --from bench >/dev/null"),
                try step("\(depot) push bench '\(corpus.extra)' >/dev/null"),
                try step("\(depot) promote bench-extra --from bench >/dev/null"),
            ]
        case "aptly":
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let configuration = """
                {"rootDir": "\(directory)", "architectures": ["amd64"],
                 "S3PublishEndpoints": {"bench": {"region": "us-east-1", "bucket": "bench", "prefix": "aptly",
                   "endpoint": "\(server.endpoint)", "awsAccessKeyID": "testing", "awsSecretAccessKey": "testing",
                   "forceSigV2": false, "plusWorkaround": false, "disableMultiDel": false, "debug": false}}}
                """
            try configuration.write(toFile: directory + "/aptly.conf", atomically: true, encoding: .utf8)
            let aptly = "GNUPGHOME='\(key.home)' aptly -config='\(directory)/aptly.conf'"
            let sign = "-batch -gpg-key=\(key.fingerprint)"
            try shell("\(aptly) repo create -distribution=bench -component=main bench >/dev/null")
            try shell("\(aptly) repo create -distribution=prod -component=main prod >/dev/null")
            return [
                try step(
                    "\(aptly) repo add bench '\(corpus.directory)' >/dev/null && \(aptly) publish repo \(sign) bench s3:bench: >/dev/null"
                ),
                try step(
                    "\(aptly) repo copy bench prod 'Name (~ .)' >/dev/null && \(aptly) publish repo \(sign) prod s3:bench: >/dev/null"
                ),
                try step(
                    "\(aptly) repo add bench '\(corpus.extra)' >/dev/null && \(aptly) publish update \(sign) bench s3:bench: >/dev/null"
                ),
                try step(
                    "\(aptly) repo copy bench prod bench-extra >/dev/null && \(aptly) publish update \(sign) prod s3:bench: >/dev/null"
                ),
            ]
        default:
            throw BenchmarkError("unknown contender '\(contender)' (depot, aptly)")
        }
    }
}

/// moto's S3 server on a free port of 127.0.0.1, logging every request line to a file.
final class Moto {
    private var process = Process()
    let log: String
    private(set) var endpoint = ""

    init(log: String) throws {
        self.log = log
        // A random port may be taken (by another server, or a client's ephemeral port): a few tries.
        for _ in 0..<5 {
            FileManager.default.createFile(atPath: log, contents: nil)
            let port = Int.random(in: 20_000..<32_000)
            endpoint = "http://127.0.0.1:\(port)"
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["moto_server", "-H", "127.0.0.1", "-p", String(port)]
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = output
            process.standardError = output
            try process.run()
            for _ in 0..<200 where process.isRunning {
                if (try? shell("curl -s -o /dev/null \(endpoint)/")) != nil { return }
                usleep(50_000)
            }
            stop()
        }
        throw BenchmarkError("moto_server did not start (pip install 'moto[server]'); see \(log)")
    }

    /// Request lines logged so far.
    func requestCount() -> Int {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains(" HTTP/1.1\" ") }.count
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
