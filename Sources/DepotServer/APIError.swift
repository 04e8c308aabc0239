import DepotCore
import Foundation
import Hummingbird

/// An API failure as the client sees it: a status and `{"error": ..., "detail": ...}`.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var error: String
    var detail: String
    /// What went wrong inside the server, for its log only: a client never sees SQL, the
    /// server's paths or its files' errors.
    var serverDetail: String?
    /// What a push recorded although it failed afterwards (its publish), so that a client
    /// knows what it no longer needs to send.
    var recorded: [Repository.PushOutcome]?

    init(_ status: HTTPResponse.Status, _ error: String, _ detail: String) {
        self.status = status
        self.error = error
        self.detail = detail
    }

    /// The client went away before its request was read: nobody is left to answer, and it is
    /// logged as nginx logs it, 499, not as a failure of the server.
    static let clientClosedRequest = APIError(
        HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), "client-closed",
        "the client closed the connection before its request was read")

    /// A failure of the server itself, described to the client without its internals.
    static func internalFailure(_ failure: any Error) -> APIError {
        var error = APIError(
            .internalServerError, "internal",
            "the server could not complete the request; nothing was changed unless its log says so")
        error.serverDetail = String(describing: failure)
        return error
    }

    /// The status and name that fit what the library reported.
    init(_ failure: DepotError) {
        let detail = failure.description
        switch failure {
        case .unknownDistribution: self.init(.notFound, "unknown-distribution", detail)
        case .unknownPackage: self.init(.notFound, "unknown-package", detail)
        case .notListed: self.init(.notFound, "not-listed", detail)
        case .conflict: self.init(.conflict, "conflict", detail)
        case .downgrade: self.init(.conflict, "downgrade", detail)
        case .unmetDependencies: self.init(.conflict, "unmet-dependencies", detail)
        case .gatesClosed: self.init(.conflict, "gates-closed", detail)
        case .invalidPackage: self.init(.unprocessableContent, "invalid-package", detail)
        case .architectureNotCarried: self.init(.unprocessableContent, "architecture-not-carried", detail)
        case .tooLarge: self.init(.contentTooLarge, "too-large", detail)
        case .unknownToken: self.init(.notFound, "unknown-token", detail)
        case .unknownHistoryEntry: self.init(.notFound, "unknown-history-entry", detail)
        case .nothingToRollBack: self.init(.notFound, "nothing-to-roll-back", detail)
        case .selfApproval: self.init(.forbidden, "self-approval", detail)
        case .alreadyApproved: self.init(.conflict, "already-approved", detail)
        case .tokenNameTaken: self.init(.conflict, "token-exists", detail)
        case .historyNotUndoable: self.init(.conflict, "not-undoable", detail)
        case .fileCollected: self.init(.conflict, "collected", detail)
        case .unknownComponent, .invalidSelector, .invalidArgument: self.init(.badRequest, "invalid-request", detail)
        case .poolPathTaken: self.init(.conflict, "conflict", detail)
        case .cancelled: self = .clientClosedRequest
        case .recordedButUnpublished(let error, let operation, let outcomes):
            // The server failed, not the request; but the change is made, and a client that
            // took it for undone would make it again or report it missing.
            self.init(
                .internalServerError, "recorded-unpublished",
                "the \(operation) is recorded but publishing it failed (the server's log says why); "
                    + "it is published once that is fixed, by 'depot publish' or the next change")
            serverDetail = error.description
            recorded = outcomes.isEmpty ? nil : outcomes
        case .earlierChangesUnpublished:
            self.init(
                .serviceUnavailable, "unpublished-changes",
                "not changed: an earlier change is recorded but publishing it failed (the server's log says why); "
                    + "try again once 'depot publish' succeeds")
            serverDetail = detail
        case .lockTimeout:
            // The holder's command line names the server's paths: the log has it.
            self.init(
                .serviceUnavailable, "busy",
                "another change held the repository for too long, and this one was not made; try again")
            serverDetail = detail
        default: self = .internalFailure(failure)
        }
    }

    private struct Body: Encodable {
        var error: String
        var detail: String
        var recorded: [Repository.PushOutcome]?
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(Body(error: error, detail: detail, recorded: recorded))
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"depot\"" }
        if status == .serviceUnavailable { headers[.retryAfter] = "5" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
