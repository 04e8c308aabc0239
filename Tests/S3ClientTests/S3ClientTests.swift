import Crypto
import DepotTestSupport
import Foundation
import S3Client
import Testing

/// The client against a real S3-compatible server (moto's, on 127.0.0.1).
@Suite(.offThePool) struct S3ClientTests {
    static let credentials = AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing")

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    func withBucket(_ body: (S3Client, MotoServer) async throws -> Void) async throws {
        let server = try MotoServer()
        defer { server.stop() }
        try server.createBucket("depot-test")
        let client = try S3Client(
            endpoint: server.endpoint, region: "us-east-1", bucket: "depot-test", addressing: .path,
            credentials: Self.credentials)
        try await body(client, server)
    }

    @Test func objectsWithAwkwardKeysGoUpAndComeBackByteForByte() async throws {
        try await withBucket { client, _ in
            let keys = [
                "pool/main/a/a+b/a+b_1.0~rc1-1_amd64.deb", "with space/x", "percent%20literal", "equals=sign",
                "ünïcödé/ключ", "dists/production/InRelease",
            ]
            for (index, key) in keys.enumerated() {
                let bytes = Array("object \(index) \(key)\n".utf8)
                let eTag = try await client.put(
                    key, body: .bytes(bytes), sha256: Self.sha256(bytes), contentType: "text/plain",
                    cacheControl: "no-cache")
                #expect(!eTag.isEmpty)
                #expect(try await client.get(key) == bytes, "\(key)")
                let info = try #require(try await client.head(key))
                #expect(info.size == bytes.count && info.eTag == eTag && !info.lastModified.isEmpty, "\(key)")
            }
            try await client.delete(keys[0])
            #expect(try await client.get(keys[0]) == nil)
            #expect(try await client.head(keys[0]) == nil)
            try await client.delete(keys[0])  // deleting what is gone succeeds, as in S3
        }
    }

    @Test func conditionalWritesRefuseWhatTheyMustNotReplace() async throws {
        try await withBucket { client, _ in
            let first = Array("first".utf8)
            let second = Array("second".utf8)
            let eTag = try await client.put(
                "pool/x.deb", body: .bytes(first), sha256: Self.sha256(first), condition: .absent)
            func expectRefused(_ condition: S3Client.Condition) async {
                do {
                    try await client.put(
                        "pool/x.deb", body: .bytes(second), sha256: Self.sha256(second), condition: condition)
                    Issue.record("the write with \(condition) replaced the object")
                } catch {
                    #expect(error.problem == .preconditionFailed, "\(error)")
                }
            }
            await expectRefused(.absent)
            #expect(try await client.get("pool/x.deb") == first)
            await expectRefused(.matches(eTag: "\"stale\""))
            try await client.put(
                "pool/x.deb", body: .bytes(second), sha256: Self.sha256(second), condition: .matches(eTag: eTag))
            #expect(try await client.get("pool/x.deb") == second)
        }
    }

    @Test func listingFollowsContinuationTokens() async throws {
        try await withBucket { client, _ in
            var expected: [String] = []
            for index in 0..<23 {
                let key = "pool/main/p/pkg\(index)/file \(index).deb"
                expected.append(key)
                let bytes = [UInt8](repeating: UInt8(index), count: index)
                try await client.put(key, body: .bytes(bytes), sha256: Self.sha256(bytes))
            }
            try await client.put("dists/other", body: .bytes([]), sha256: SigV4Signer.emptyPayloadHash)
            let listed = try await client.list(prefix: "pool/", pageSize: 5)
            #expect(listed.map(\.key).sorted() == expected.sorted())
            #expect(listed.first { $0.key == "pool/main/p/pkg7/file 7.deb" }?.size == 7)
        }
    }

    @Test func largeFilesGoUpInPartsFromDisk() async throws {
        try await withBucket { client, _ in
            let folder = try TestSupport.makeTemporaryDirectory("s3")
            defer { try? FileManager.default.removeItem(at: folder) }
            let path = folder.appendingPathComponent("large.deb").path
            var generator = SeededGenerator(seed: 3)
            let bytes = (0..<(11 << 20 | 12_345)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            try await client.putInParts(
                "pool/main/l/large/large.deb", path: path, count: bytes.count, partSize: 5 << 20, concurrency: 2,
                contentType: "application/vnd.debian.binary-package", condition: .absent)
            let back = try await client.get("pool/main/l/large/large.deb")
            #expect(back?.count == bytes.count)
            #expect(back == bytes)
            // A single PUT streamed from the same file, signed with the file's SHA-256.
            try await client.put(
                "pool/main/l/large/single.deb", body: .file(path: path, offset: 0, count: bytes.count),
                sha256: Self.sha256(bytes))
            #expect(try await client.head("pool/main/l/large/single.deb")?.size == bytes.count)
        }
    }

    @Test func failuresNameTheBucketAndWhatToDo() async throws {
        try await withBucket { _, server in
            let missing = try S3Client(
                endpoint: server.endpoint, region: "us-east-1", bucket: "no-such-bucket", addressing: .path,
                credentials: Self.credentials)
            do {
                try await missing.put("x", body: .bytes([]), sha256: SigV4Signer.emptyPayloadHash)
                Issue.record("a put into a missing bucket succeeded")
            } catch {
                let message = "\(error)"
                #expect(message.contains("bucket 'no-such-bucket'"), "\(message)")
                #expect(message.contains("NoSuchBucket"), "\(message)")
                #expect(message.contains("create the bucket"), "\(message)")
            }
        }
        let unreachable = try S3Client(
            endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "b", addressing: .path,
            credentials: Self.credentials, attempts: 2)
        do {
            _ = try await unreachable.get("x")
            Issue.record("a closed port answered")
        } catch {
            let message = "\(error)"
            #expect(message.contains("bucket 'b'") && message.contains("could not be reached"), "\(message)")
        }
        #expect(throws: S3Error.self) {
            try S3Client(
                endpoint: "s3.amazonaws.com", region: "us-east-1", bucket: "b", addressing: .virtual,
                credentials: Self.credentials)
        }
    }
}
