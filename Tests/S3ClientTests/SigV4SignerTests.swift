import DepotTestSupport
import Foundation
import S3Client
import Testing

@Suite struct SigV4SignerTests {
    static let credentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
    static let date = "20130524T000000Z"

    /// The worked examples of the S3 API reference ("Signature Calculations for the
    /// Authorization Header: Transferring Payload in a Single Chunk").
    @Test(arguments: [
        (
            SignableRequest(
                method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt",
                headers: [("Range", "bytes=0-9")], payloadHash: SigV4Signer.emptyPayloadHash),
            "host;range;x-amz-content-sha256;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ),
        (
            SignableRequest(
                method: "PUT", host: "examplebucket.s3.amazonaws.com", path: "/test$file.text",
                headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
                payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ),
        (
            SignableRequest(
                method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/",
                query: [("lifecycle", "")], payloadHash: SigV4Signer.emptyPayloadHash),
            "host;x-amz-content-sha256;x-amz-date",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        ),
        (
            SignableRequest(
                method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/",
                query: [("prefix", "J"), ("max-keys", "2")], payloadHash: SigV4Signer.emptyPayloadHash),
            "host;x-amz-content-sha256;x-amz-date",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        ),
    ])
    func matchesTheAWSDocumentationsExamples(request: SignableRequest, signedHeaders: String, signature: String) {
        let computed = Self.signer.signature(
            for: request, adding: [("x-amz-date", Self.date), ("x-amz-content-sha256", request.payloadHash)],
            timestamp: Self.date)
        #expect(computed.signedHeaders == signedHeaders)
        #expect(computed.signature == signature, "\(computed.canonicalRequest)")
        #expect(
            computed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=\(signedHeaders), Signature=\(signature)"
        )
    }

    @Test func timestampsAndEncodingFollowTheRules() {
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_369_353_600)) == "20130524T000000Z")
        #expect(SigV4Signer.encode("a b+c/d~e_f.g-h%=ü") == "a%20b%2Bc%2Fd~e_f.g-h%25%3D%C3%BC")
        let request = SignableRequest(
            method: "GET", host: "h", path: "/bucket/pool/main/a+b/a+b_1.0~rc1_all.deb", payloadHash: "x")
        #expect(request.encodedPath == "/bucket/pool/main/a%2Bb/a%2Bb_1.0~rc1_all.deb")
    }

    /// botocore, the reference implementation (PyPI), signs the same requests: keys with
    /// `+ ~ % = :`, spaces and non-ASCII, queries that need encoding, temporary credentials.
    @Test func agreesWithBotocore() throws {
        try #require(
            TestSupport.pythonHas("botocore"), "botocore is missing: pip install -r Scripts/python-packages")
        let keys = [
            "pool/main/a/a+b/a+b_1.0~rc1-1_amd64.deb", "dists/x/by-hash/SHA256/0f", "with space/and tab\t",
            "percent%20literal", "equals=sign&amp", "colon:semi;comma,", "ünïcödé/ключ/日本", "tilde~/star*",
            "(parens)'quote'!", "",
        ]
        let queries: [[(name: String, value: String)]] = [
            [], [("list-type", "2"), ("prefix", "pool/main/"), ("continuation-token", "a+b/c=d e")],
            [("uploads", "")], [("partNumber", "3"), ("uploadId", "x~y+z/==")],
        ]
        var cases: [[String: Any]] = []
        for (index, key) in keys.enumerated() {
            let query = queries[index % queries.count]
            cases.append([
                "method": index % 2 == 0 ? "PUT" : "GET", "path": "/depot-bucket/" + key,
                "query": query.map { [$0.name, $0.value] },
                "headers": [["Content-Type", "application/x-debian-package"], ["Cache-Control", "no-cache"]],
                "payload": SigV4Signer.emptyPayloadHash, "token": index % 3 == 0 ? "session/token+=" : "",
            ])
        }
        let script = """
            import sys, json, datetime
            import botocore.auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            from botocore.utils import percent_encode
            botocore.auth.get_current_datetime = lambda: datetime.datetime(2026, 11, 28, 3, 30, 0)
            results = []
            for case in json.load(sys.stdin):
                bucket, key = case["path"][1:].split("/", 1)
                path = "/" + bucket + "/" + percent_encode(key, safe="/~")
                query = "&".join(percent_encode(n) + "=" + percent_encode(v) for n, v in case["query"])
                url = "http://127.0.0.1:9000" + path + ("?" + query if query else "")
                request = AWSRequest(method=case["method"], url=url, data=b"")
                for name, value in case["headers"]:
                    request.headers[name] = value
                request.headers["X-Amz-Content-SHA256"] = case["payload"]
                credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", case["token"] or None)
                botocore.auth.S3SigV4Auth(credentials, "s3", "eu-central-1").add_auth(request)
                results.append({"path": path, "authorization": request.headers["Authorization"]})
            print(json.dumps(results))
            """
        let input = try JSONSerialization.data(withJSONObject: cases)
        let result = try TestSupport.run("python3", ["-c", script], input: input)
        try #require(result.status == 0, "\(result.standardError)")
        let references = try #require(
            try JSONSerialization.jsonObject(with: result.standardOutput) as? [[String: String]])
        for (index, key) in keys.enumerated() {
            let query = queries[index % queries.count]
            let token = index % 3 == 0 ? "session/token+=" : nil
            let signer = SigV4Signer(
                credentials: AWSCredentials(
                    accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                    sessionToken: token),
                region: "eu-central-1")
            let request = SignableRequest(
                method: index % 2 == 0 ? "PUT" : "GET", host: "127.0.0.1:9000", path: "/depot-bucket/" + key,
                query: query,
                headers: [("Content-Type", "application/x-debian-package"), ("Cache-Control", "no-cache")],
                payloadHash: SigV4Signer.emptyPayloadHash)
            var added = [("x-amz-date", "20261128T033000Z"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)]
            if let token { added.append(("x-amz-security-token", token)) }
            let computed = signer.signature(for: request, adding: added, timestamp: "20261128T033000Z")
            #expect(request.encodedPath == references[index]["path"], "\(key)")
            #expect(
                computed.authorization == references[index]["authorization"], "\(key): \(computed.canonicalRequest)")
        }
    }

    @Test func credentialsComeFromTheEnvironmentOrTheSharedFile() throws {
        let fromEnvironment = try AWSCredentials.standard(environment: [
            "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "ST",
        ])
        #expect(fromEnvironment == AWSCredentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "ST"))

        let folder = try TestSupport.makeTemporaryDirectory("aws")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("credentials").path
        try """
        [default]
        aws_access_key_id = DEFAULTKEY
        aws_secret_access_key = defaultsecret

        # a comment
        [ci]
        aws_access_key_id=CIKEY
        aws_secret_access_key = ci/secret+=
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let fromProfile = try AWSCredentials.standard(environment: [
            "AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "ci",
        ])
        #expect(fromProfile == AWSCredentials(accessKeyID: "CIKEY", secretAccessKey: "ci/secret+="))
        #expect(
            try AWSCredentials.standard(environment: ["AWS_SHARED_CREDENTIALS_FILE": file]).accessKeyID == "DEFAULTKEY")
        #expect(throws: AWSCredentials.NotFound.self) {
            try AWSCredentials.standard(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "prod"])
        }
        #expect(throws: AWSCredentials.NotFound.self) {
            try AWSCredentials.standard(environment: ["AWS_SHARED_CREDENTIALS_FILE": folder.path + "/missing"])
        }
    }
}
