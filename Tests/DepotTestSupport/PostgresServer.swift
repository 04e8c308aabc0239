import Foundation

/// A PostgreSQL server (Debian's `postgresql`) of its own on a free port of 127.0.0.1, run
/// as the `postgres` user from a temporary folder, for one test suite. User `depot`, whose
/// password is `password`, must be given (`PGPASSWORD` in `environment`).
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    private let process: Process
    private let directory: URL
    private let binaries: String
    public static let user = "depot"
    public static let password = "depot-tests-password"

    /// The environment of a process that uses this server: the password in `PGPASSWORD`.
    public var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(["PGPASSWORD": Self.password, "PGPASSFILE": "/nonexistent"]) { $1 }
    }

    /// The certificate authority that signed the server's certificate, with `tls`.
    public var certificateAuthority: String { directory.appendingPathComponent("ca.pem").path }
    /// Another authority, which signed nothing the server holds.
    public var otherCertificateAuthority: String { directory.appendingPathComponent("other-ca.pem").path }

    /// With `tls`, the server speaks TLS only (`hostssl` in its pg_hba.conf), with a
    /// certificate for the name `db.example` (not for 127.0.0.1) signed by an authority
    /// made here (`certificateAuthority`).
    public init(tls: Bool = false) throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.sorted().last else {
            throw TestSupportError("PostgreSQL is missing: apt-get install postgresql")
        }
        binaries = "/usr/lib/postgresql/\(version)/bin"
        directory = try TestSupport.makeTemporaryDirectory("postgres")
        try Self.password.write(to: directory.appendingPathComponent("password"), atomically: true, encoding: .utf8)
        try TestSupport.run("chown", ["-R", "postgres:postgres", directory.path])
        let initdb = try Self.asPostgres(
            "\(binaries)/initdb", [
                "-D", directory.appendingPathComponent("data").path, "-U", Self.user,
                "--pwfile=\(directory.appendingPathComponent("password").path)", "-A", "scram-sha-256", "--no-sync",
            ])
        guard initdb.status == 0 else { throw TestSupportError("initdb failed: \(initdb.standardError)") }
        var settings: [String] = []
        if tls {
            try Self.makeCertificates(in: directory)
            let hba = directory.appendingPathComponent("pg_hba.conf")
            try "hostssl all all 127.0.0.1/32 scram-sha-256\nlocal all all trust\n".write(
                to: hba, atomically: true, encoding: .utf8)
            try TestSupport.run("chown", ["-R", "postgres:postgres", directory.path])
            settings = [
                "-c", "ssl=on", "-c", "ssl_cert_file=\(directory.path)/server.pem",
                "-c", "ssl_key_file=\(directory.path)/server.key", "-c", "hba_file=\(hba.path)",
            ]
        }
        var lastError = ""
        for _ in 0..<5 {
            // Below the kernel's ephemeral ports, which clients take.
            let port = Int.random(in: 20_000..<32_000)
            // Run in the foreground, a child of this process (pg_ctl's daemon left the test's
            // wait for pg_ctl hanging).
            let log = directory.appendingPathComponent("log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = [
                "-u", "postgres", "--", "\(binaries)/postgres", "-D", directory.appendingPathComponent("data").path,
                "-p", String(port), "-k", directory.path, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                "-c", "max_connections=60",
            ] + settings
            let output = try FileHandle(forWritingTo: log)
            process.standardOutput = output
            process.standardError = output
            try process.run()
            for _ in 0..<200 where process.isRunning {
                if (try? TestSupport.run("\(binaries)/pg_isready", ["-q", "-h", "127.0.0.1", "-p", String(port)]))?.status
                    == 0
                {
                    self.process = process
                    self.port = port
                    return
                }
                usleep(50_000)
            }
            lastError = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        throw TestSupportError("PostgreSQL did not start: \(lastError)")
    }

    /// A CA, a server key and certificate (for `db.example`) it signs, and another CA.
    private static func makeCertificates(in directory: URL) throws {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func openssl(_ arguments: [String]) throws {
            let result = try TestSupport.run("openssl", arguments)
            guard result.status == 0 else {
                throw TestSupportError("openssl \(arguments[0]) failed: \(result.standardError)")
            }
        }
        for ca in ["ca", "other-ca"] {
            try openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(ca).key"), "-out", path("\(ca).pem"),
                "-days", "2", "-subj", "/CN=Depot test \(ca)",
            ])
        }
        try "subjectAltName=DNS:db.example\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("server.key"), "-out", path("server.csr"),
            "-subj", "/CN=db.example",
        ])
        try openssl([
            "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-out", path("server.pem"), "-days", "2", "-extfile", path("server.ext"),
        ])
        chmod(path("server.key"), 0o600)
    }

    private static func asPostgres(_ program: String, _ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.run("runuser", ["-u", "postgres", "--", program] + arguments)
    }

    /// `postgresql://depot@127.0.0.1:PORT/DATABASE`.
    public func url(_ database: String) -> String { "postgresql://\(Self.user)@127.0.0.1:\(port)/\(database)" }

    /// The server's own psql.
    public var psqlPath: String { "\(binaries)/psql" }

    /// Runs SQL in `database` with psql; its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        let result = try TestSupport.run(
            "\(binaries)/psql",
            ["-h", "127.0.0.1", "-p", String(port), "-U", Self.user, "-d", database, "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
            environment: environment)
        guard result.status == 0 else { throw TestSupportError("psql failed: \(result.standardError)") }
        return result.text
    }

    public func createDatabase(_ name: String) throws { try psql("CREATE DATABASE \(name)") }

    public func stop() {
        if process.isRunning {
            _ = try? Self.asPostgres(
                "\(binaries)/pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", "immediate", "stop"])
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}
