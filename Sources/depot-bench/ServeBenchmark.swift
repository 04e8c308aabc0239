import ArgumentParser
import Foundation

/// `depot serve` against `aptly serve` and nginx, serving the same `public/` in the same run,
/// loaded by wrk on 127.0.0.1; then the server's memory while a large `.deb` is pushed through
/// the API.
struct ServeBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Static throughput of depot serve, aptly serve and nginx; memory during a large upload.",
        discussion: "Needs wrk, aptly and nginx (apt-get install wrk aptly nginx-light).")

    @Option(help: "Where the repository and the peers' files go.")
    var work = "/tmp/depot-bench/serve"

    @Option(help: "Seconds of load per measurement.")
    var seconds = 10

    @Option(help: "Concurrent connections for small files.")
    var connections = 50

    @Option(help: "Size of the large .deb, in MiB.")
    var largeMB = 100

    @Option(help: "Rounds of measurements, the servers taking turns; medians are reported.")
    var rounds = 3

    func run() throws {
        let depot = try depotBesideBench()
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let root = "\(work)/repository"
        let large = try makeLargePackage(name: "bench-large", megabytes: largeMB)
        let upload = try makeLargePackage(name: "bench-upload", megabytes: largeMB)
        print("Setting up a repository with a \(largeMB) MiB package...")
        try shell("'\(depot)' --root '\(root)' init --architectures amd64 --distributions bench >/dev/null")
        try shell("'\(depot)' --root '\(root)' push bench '\(large)' >/dev/null")
        let smallPath = "dists/bench/InRelease"
        let largePath = "pool/main/b/bench-large/bench-large_1.0-1_amd64.deb"

        // All three run at once, idle but for the one under load: the servers take turns in
        // each round, so that a slower moment of this shared machine is shared by all.
        let servers: [(String, () throws -> (Process, Int))] = [
            ("depot serve", { try self.startDepot(depot, root: root, port: 18181) }),
            ("aptly serve", { try self.startAptly(tree: "\(root)/public", port: 18182) }),
            ("nginx", { try self.startNginx(tree: "\(root)/public", port: 18183) }),
        ]
        var started: [(name: String, process: Process, port: Int)] = []
        defer {
            for server in started {
                kill(server.process.processIdentifier, SIGTERM)
                server.process.waitUntilExit()
            }
        }
        for (name, start) in servers {
            let (process, port) = try start()
            started.append((name, process, port))
        }
        var small: [String: [Double]] = [:]
        var big: [String: [Double]] = [:]
        for round in 1...rounds {
            for server in started {
                print("round \(round) of \(rounds), \(server.name): loading for \(2 * seconds) s...")
                small[server.name, default: []].append(
                    try wrk("http://127.0.0.1:\(server.port)/\(smallPath)", connections: connections).requestsPerSecond)
                big[server.name, default: []].append(
                    try wrk("http://127.0.0.1:\(server.port)/\(largePath)", connections: 4).bytesPerSecond / 1_048_576)
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let rows = started.map { ($0.name, median(small[$0.name]!), median(big[$0.name]!)) }
        print("")
        print(
            "Static files, wrk on 127.0.0.1 (\(seconds) s each, median of \(rounds) rounds; the machine's 2 cores are shared with wrk)"
        )
        print(
            "  server         small file (InRelease), \(connections) connections   \(largeMB) MiB .deb, 4 connections")
        for (name, small, big) in rows {
            print(
                "  \(name.padding(toLength: 13, withPad: " ", startingAt: 0))  "
                    + String(format: "%10.0f requests/s                   %8.0f MiB/s", small, big))
        }
        if let depotRow = rows.first, let nginxRow = rows.last {
            print(
                String(
                    format: "  depot serve is %.0f %% of nginx for small files, %.0f %% for the large one",
                    100 * depotRow.1 / nginxRow.1, 100 * depotRow.2 / nginxRow.2))
        }

        print("")
        print("Upload of a \(largeMB) MiB .deb through the API:")
        let token = String(
            decoding: try shell("'\(depot)' --root '\(root)' token create bench --allow 'push:*'"), as: UTF8.self
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        let (server, port) = try startDepot(depot, root: root, port: 18184)
        defer {
            kill(server.processIdentifier, SIGTERM)
            server.waitUntilExit()
        }
        let before = try memory(of: server.processIdentifier)
        let start = Date()
        try shell(
            "curl -sf -o /dev/null -H 'Authorization: Bearer \(token)' --data-binary @'\(upload)' "
                + "http://127.0.0.1:\(port)/api/v1/distributions/bench/packages")
        let elapsed = Date().timeIntervalSince(start)
        let after = try memory(of: server.processIdentifier)
        print(
            String(
                format: "  %.2f s (%.0f MiB/s); server resident memory %.1f MiB before, peak %.1f MiB after",
                elapsed, Double(largeMB) / elapsed, Double(before.resident) / 1024, Double(after.peak) / 1024))
    }

    /// A package of `megabytes` of incompressible data, stored uncompressed.
    private func makeLargePackage(name: String, megabytes: Int) throws -> String {
        let folder = "\(work)/\(name)"
        let output = "\(work)/\(name)_1.0-1_amd64.deb"
        try shell(
            """
            mkdir -p '\(folder)/DEBIAN' '\(folder)/usr/share/\(name)' &&
            printf 'Package: \(name)\\nVersion: 1.0-1\\nArchitecture: amd64\\nMaintainer: Bench <bench@depot.example>\\nDescription: large package\\n' > '\(folder)/DEBIAN/control' &&
            head -c \(megabytes)M /dev/urandom > '\(folder)/usr/share/\(name)/data' &&
            dpkg-deb -Znone --root-owner-group -b '\(folder)' '\(output)' >/dev/null && rm -rf '\(folder)'
            """)
        return output
    }

    private func startDepot(_ depot: String, root: String, port: Int) throws -> (Process, Int) {
        let process = try launch(depot, ["--root", root, "serve", "--listen", "127.0.0.1:\(port)"], log: "depot")
        try waitForHTTP(port: port)
        return (process, port)
    }

    /// aptly serves its root's `public/`: a root whose `public` is a link to Depot's. aptly
    /// refuses to serve without a published repository, so one empty one is published first.
    private func startAptly(tree: String, port: Int) throws -> (Process, Int) {
        let root = "\(work)/aptly"
        let configuration = "\(work)/aptly.conf"
        try #"{"rootDir": "\#(root)", "architectures": ["amd64"]}"#.write(
            toFile: configuration, atomically: true, encoding: .utf8)
        try shell(
            "aptly -config='\(configuration)' repo create -distribution=empty empty >/dev/null && "
                + "aptly -config='\(configuration)' publish repo -skip-signing -architectures=amd64 empty >/dev/null")
        // Move aptly's own tree aside and put Depot's in its place: what is served is the same.
        try shell("mv '\(root)/public' '\(root)/public.aptly' && ln -s '\(tree)' '\(root)/public'")
        let process = try launch(
            "/usr/bin/aptly", ["-config=\(configuration)", "serve", "-listen=127.0.0.1:\(port)"], log: "aptly")
        try waitForHTTP(port: port)
        return (process, port)
    }

    private func startNginx(tree: String, port: Int) throws -> (Process, Int) {
        let prefix = "\(work)/nginx"
        try FileManager.default.createDirectory(atPath: prefix + "/logs", withIntermediateDirectories: true)
        let configuration = """
            daemon off;
            worker_processes auto;
            pid \(prefix)/nginx.pid;
            error_log \(prefix)/logs/error.log;
            events { worker_connections 1024; }
            http {
                # Logged like depot serve logs: one line per request.
                access_log \(prefix)/logs/access.log;
                sendfile on;
                include /etc/nginx/mime.types;
                server {
                    listen 127.0.0.1:\(port);
                    root \(tree);
                }
            }
            """
        try configuration.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = try launch("/usr/sbin/nginx", ["-p", prefix, "-c", prefix + "/nginx.conf"], log: "nginx")
        try waitForHTTP(port: port)
        return (process, port)
    }

    private func launch(_ executable: String, _ arguments: [String], log: String) throws -> Process {
        try launchServer(executable, arguments, logPath: "\(work)/\(log).log")
    }

    private struct Load {
        var requestsPerSecond: Double
        var bytesPerSecond: Double
    }

    /// wrk's requests and bytes per second; fails if any request failed.
    private func wrk(_ url: String, connections: Int) throws -> Load {
        let output = String(
            decoding: try shell("wrk -t2 -c\(connections) -d\(seconds)s '\(url)'"), as: UTF8.self)
        guard !output.contains("Non-2xx"), !output.contains("Socket errors") else {
            throw BenchmarkError("wrk saw failures against \(url):\n\(output)")
        }
        func value(after label: String) -> String? {
            output.split(separator: "\n").first { $0.contains(label) }?.split(separator: " ").last.map(String.init)
        }
        guard let requests = value(after: "Requests/sec:").flatMap(Double.init),
            let transfer = value(after: "Transfer/sec:")
        else { throw BenchmarkError("cannot read wrk's output:\n\(output)") }
        let units: [String: Double] = ["B": 1, "KB": 1024, "MB": 1_048_576, "GB": 1_073_741_824]
        let unit = String(transfer.drop { $0.isNumber || $0 == "." })
        let bytes = (Double(transfer.prefix { $0.isNumber || $0 == "." }) ?? 0) * (units[unit] ?? 1)
        return Load(requestsPerSecond: requests, bytesPerSecond: bytes)
    }

    /// Resident and peak resident memory of a process, in KiB.
    private func memory(of pid: Int32) throws -> (resident: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name) }
                .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) } ?? 0
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }
}
