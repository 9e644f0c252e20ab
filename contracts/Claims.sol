// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IClaims} from "../interfaces/IClaims.sol";
import {IConsentRegistry} from "../interfaces/IConsentRegistry.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {Scopes} from "./Scopes.sol";

/// @title Insurance claims module
/// @notice Its own contract beside MedLedger, deployed after it (`medledger deploy claims`): MedLedger
/// is not upgradeable and its runtime is close to EIP-170's 24,576-byte limit, so claims cannot be a
/// module inside it; from outside it uses the ledger's provider registry (insurers are a provider
/// kind; only active clinicians and organisations submit), its record registry (the Coverage and
/// Claim documents must be records of the patient, so the patient and the parties can always read
/// them under the same consent and key-release rules), its consent (the insurer must be able to read
/// the claim for payment, HPAYMT) and its pause. The ledger trusts nothing here: Claims holds no
/// role in MedLedger.
///
/// Settlement: each insurer funds its own escrow per ERC-20 inside this contract; paying a claim
/// moves the approved amount from that insurer's escrow to the provider's withdrawable balance,
/// which the provider pulls. Balances are kept per insurer and per token, so an insurer that
/// underfunds blocks only its own claims. The patient's share is recorded, never collected.
/// Deadlines (timely filing, adjudication, appeal) are fixed at deployment.
contract Claims is IClaims, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The MedLedger whose providers, records and consent this module uses.
    address public immutable ledger;
    /// @notice How long after the service date a claim may be submitted.
    uint32 public immutable timelyFilingSeconds;
    /// @notice How long the insurer has to decide a submitted (or supplemented) claim, and an appeal.
    uint32 public immutable adjudicationSeconds;
    /// @notice How long after a decision (or a deemed denial) the patient or provider may appeal.
    uint32 public immutable appealSeconds;

    /// @dev A claim as stored, in three slots: its coverage by registration index (a uint40 that fits
    /// beside the amounts, where the 32-byte coverage id would take a slot of its own).
    struct StoredClaim {
        address provider;
        uint40 serviceDate;
        uint40 due;
        ClaimStatus status;
        uint8 round;
        bool pended;
        uint96 billed;
        uint96 approved;
        uint16 reason;
        uint40 coverage;
        uint96 patientShare;
        uint96 paid;
    }

    /// @dev Coverages by registration index (from 1), and the index and id of each.
    mapping(uint40 index => Coverage) private _coverages;
    mapping(bytes32 coverageId => uint40 index) private _coverageIndex;
    mapping(uint40 index => bytes32 coverageId) private _coverageIds;
    uint40 private _coverageCount;
    mapping(bytes32 claimId => StoredClaim) private _claims;
    mapping(address insurer => mapping(address token => uint256)) private _escrow;
    mapping(address account => mapping(address token => uint256)) private _withdrawable;

    constructor(address ledger_, uint32 timelyFilingSeconds_, uint32 adjudicationSeconds_, uint32 appealSeconds_) {
        if (ledger_ == address(0)) revert ZeroAddress();
        if (timelyFilingSeconds_ == 0 || adjudicationSeconds_ == 0 || appealSeconds_ == 0) revert InvalidDeadline();
        ledger = ledger_;
        timelyFilingSeconds = timelyFilingSeconds_;
        adjudicationSeconds = adjudicationSeconds_;
        appealSeconds = appealSeconds_;
    }

    /// @dev Steps that create or change obligations follow the ledger's circuit breaker; ending a
    /// coverage, withdrawing a claim and taking money out do not.
    modifier whenLedgerNotPaused() {
        if (Pausable(ledger).paused()) revert LedgerPaused();
        _;
    }

    // -- coverage ----------------------------------------------------------------------------------

    /// @inheritdoc IClaims
    function registerCoverage(address patient, bytes32 digest, address token, uint40 start, uint40 end)
        external
        whenLedgerNotPaused
        returns (bytes32 coverageId)
    {
        _requireInsurer(msg.sender);
        if (patient == address(0) || token == address(0)) revert ZeroAddress();
        if (patient == msg.sender) revert SelfCoverage();
        if (digest == bytes32(0)) revert ZeroDigest();
        if (token.code.length == 0) revert NotAToken(token);
        // slither-disable-next-line timestamp
        if (start >= end || end <= block.timestamp) revert InvalidCoveragePeriod(start, end);
        _requireRecord(patient, digest, msg.sender);
        coverageId = keccak256(abi.encode(msg.sender, patient, digest));
        if (_coverageIndex[coverageId] != 0) revert CoverageExists(coverageId);
        uint40 index = ++_coverageCount;
        _coverageIndex[coverageId] = index;
        _coverageIds[index] = coverageId;
        _coverages[index] = Coverage(patient, start, end, msg.sender, token);
        emit CoverageRegistered(coverageId, patient, msg.sender, token, digest, start, end);
    }

    /// @inheritdoc IClaims
    function endCoverage(bytes32 coverageId, uint40 end) external {
        (Coverage storage coverage,) = _coverage(coverageId);
        if (coverage.insurer != msg.sender) revert NotCoverageInsurer(coverageId, msg.sender);
        // slither-disable-next-line timestamp
        if (end < block.timestamp || end >= coverage.end) revert InvalidCoveragePeriod(coverage.start, end);
        coverage.end = end < coverage.start ? coverage.start : end;
        emit CoverageEnded(coverageId, coverage.patient, msg.sender, coverage.end);
    }

    // -- claims ------------------------------------------------------------------------------------

    /// @inheritdoc IClaims
    function submit(bytes32 coverageId, bytes32 encounter, bytes32 digest, uint40 serviceDate, uint96 billed)
        external
        whenLedgerNotPaused
        returns (bytes32 claimId)
    {
        _requireBillingProvider(msg.sender);
        if (encounter == bytes32(0) || digest == bytes32(0)) revert ZeroDigest();
        if (billed == 0) revert ZeroAmount();
        (address patient, uint40 coverageIndex) = _requireFileable(coverageId, serviceDate, digest);
        claimId = keccak256(abi.encode(coverageId, msg.sender, encounter));
        StoredClaim storage claim = _claims[claimId];
        if (claim.status != ClaimStatus.None) revert ClaimExists(claimId);
        uint40 due = _after(adjudicationSeconds);
        claim.coverage = coverageIndex;
        claim.provider = msg.sender;
        claim.serviceDate = serviceDate;
        claim.due = due;
        claim.status = ClaimStatus.Submitted;
        claim.billed = billed;
        emit ClaimSubmitted(claimId, patient, msg.sender, coverageId, encounter, digest, serviceDate, billed, due);
    }

    /// @dev An active clinician or organisation.
    function _requireBillingProvider(address account) private view {
        IProviderRegistry.Provider memory provider = IProviderRegistry(ledger).providerOf(account);
        if (
            provider.kind != IProviderRegistry.ProviderKind.Clinician
                && provider.kind != IProviderRegistry.ProviderKind.Organization
        ) revert NotABillingProvider(account);
        if (provider.status != IProviderRegistry.ProviderStatus.Active) revert ProviderInactive(account);
    }

    /// @dev A service the coverage was in force for, within timely filing, billed by a document that
    /// is the caller's record of the patient and that the insurer may read for payment. The patient.
    function _requireFileable(bytes32 coverageId, uint40 serviceDate, bytes32 digest)
        private
        view
        returns (address, uint40)
    {
        (Coverage storage coverage, uint40 index) = _coverage(coverageId);
        // slither-disable-start timestamp
        // Deadlines are days-scale rules; a validator's few seconds of leeway cannot change them.
        if (serviceDate > block.timestamp) revert ServiceInFuture(serviceDate);
        if (serviceDate < coverage.start || serviceDate >= coverage.end) {
            revert ServiceOutsideCoverage(coverageId, serviceDate);
        }
        uint256 filingDeadline = uint256(serviceDate) + timelyFilingSeconds;
        if (block.timestamp > filingDeadline) revert TimelyFilingExpired(serviceDate, filingDeadline);
        // slither-disable-end timestamp
        address patient = coverage.patient;
        address insurer = coverage.insurer;
        uint8 category = _requireRecord(patient, digest, msg.sender);
        bool insurerReads =
            IConsentRegistry(ledger).hasAccess(patient, insurer, category, Scopes.PURPOSE_HPAYMT, Scopes.READ);
        if (!insurerReads) revert InsurerCannotRead(patient, insurer, category);
        return (patient, index);
    }

    /// @inheritdoc IClaims
    function pend(bytes32 claimId, uint16 reason, bytes32 digest) external whenLedgerNotPaused {
        StoredClaim storage claim = _claim(claimId);
        Coverage storage coverage = _coverages[claim.coverage];
        _requireClaimInsurer(claimId, coverage);
        if (claim.status != ClaimStatus.Submitted) revert WrongStatus(claimId, claim.status);
        if (claim.pended) revert AlreadyPended(claimId);
        _requireBefore(claimId, claim.due);
        claim.status = ClaimStatus.Pended;
        claim.pended = true;
        claim.due = 0;
        emit ClaimPended(claimId, coverage.patient, msg.sender, reason, digest);
    }

    /// @inheritdoc IClaims
    function supplement(bytes32 claimId, bytes32 digest) external whenLedgerNotPaused {
        StoredClaim storage claim = _claim(claimId);
        if (claim.provider != msg.sender) revert NotClaimProvider(claimId, msg.sender);
        if (claim.status != ClaimStatus.Pended) revert WrongStatus(claimId, claim.status);
        address patient = _coverages[claim.coverage].patient;
        if (digest == bytes32(0)) revert ZeroDigest();
        _requireRecord(patient, digest, msg.sender);
        uint40 due = _after(adjudicationSeconds);
        claim.status = ClaimStatus.Submitted;
        claim.due = due;
        emit ClaimSupplemented(claimId, patient, msg.sender, digest, due);
    }

    /// @inheritdoc IClaims
    function adjudicate(bytes32 claimId, uint96 approved, uint96 patientShare, uint16 reason, bytes32 digest)
        external
        whenLedgerNotPaused
    {
        StoredClaim storage claim = _claim(claimId);
        address patient = _requireDecidable(claimId, claim);
        uint8 round = claim.status == ClaimStatus.Appealed ? 1 : 0;
        _decide(claim, approved, patientShare, reason, round);
        _emitDecision(claimId, claim, patient, round, digest);
    }

    /// @dev The caller may decide the claim now: its coverage's active insurer, a claim awaiting a
    /// decision (Submitted or Appealed before its deadline, or Pended). The claim's patient.
    function _requireDecidable(bytes32 claimId, StoredClaim storage claim) private view returns (address) {
        Coverage storage coverage = _coverages[claim.coverage];
        _requireClaimInsurer(claimId, coverage);
        ClaimStatus status = claim.status;
        if (status == ClaimStatus.Submitted || status == ClaimStatus.Appealed) {
            _requireBefore(claimId, claim.due);
        } else if (status != ClaimStatus.Pended) {
            revert WrongStatus(claimId, status);
        }
        return coverage.patient;
    }

    /// @dev Checks the amounts and records the decision: approved > 0 approves (or, on appeal at
    /// exactly what was paid, settles), zero denies; round 0 opens the appeal window.
    function _decide(StoredClaim storage claim, uint96 approved, uint96 patientShare, uint16 reason, uint8 round)
        private
    {
        uint96 billed = claim.billed;
        if (uint256(approved) + patientShare > billed) revert InvalidAmounts(approved, patientShare, billed);
        if (approved == 0 && reason == 0) revert DenialWithoutReason();
        uint96 paid = claim.paid;
        if (approved < paid) revert BelowPaid(approved, paid);
        claim.status = approved == 0 ? ClaimStatus.Denied : approved == paid ? ClaimStatus.Paid : ClaimStatus.Approved;
        claim.due = round == 0 ? _after(appealSeconds) : 0;
        claim.approved = approved;
        claim.reason = reason;
        claim.patientShare = patientShare;
    }

    function _emitDecision(bytes32 claimId, StoredClaim storage claim, address patient, uint8 round, bytes32 digest)
        private
    {
        emit ClaimAdjudicated(
            claimId,
            patient,
            msg.sender,
            claim.status,
            round,
            claim.approved,
            claim.patientShare,
            claim.reason,
            digest,
            claim.due
        );
    }

    /// @inheritdoc IClaims
    function pay(bytes32 claimId) external whenLedgerNotPaused {
        StoredClaim storage claim = _claim(claimId);
        Coverage storage coverage = _coverages[claim.coverage];
        address provider = claim.provider;
        address insurer = coverage.insurer;
        if (msg.sender != insurer && msg.sender != provider) revert NotPayer(claimId, msg.sender);
        ClaimStatus status = claim.status;
        // An approval stands while its appeal is pending; it is payable once the appeal's deadline
        // passes undecided (the appeal is then deemed denied).
        // slither-disable-next-line timestamp
        bool appealLapsed =
            status == ClaimStatus.Appealed && block.timestamp >= claim.due && claim.approved > claim.paid;
        if (status != ClaimStatus.Approved && !appealLapsed) revert WrongStatus(claimId, status);
        if (!IProviderRegistry(ledger).isActiveProvider(provider)) revert ProviderInactive(provider);
        address token = coverage.token;
        uint96 amount = claim.approved - claim.paid;
        uint256 available = _escrow[insurer][token];
        if (available < amount) revert InsufficientEscrow(insurer, token, amount, available);
        unchecked {
            _escrow[insurer][token] = available - amount;
        }
        _withdrawable[provider][token] += amount;
        claim.paid = claim.approved;
        claim.status = ClaimStatus.Paid;
        emit ClaimPaid(claimId, coverage.patient, provider, insurer, token, amount);
    }

    /// @inheritdoc IClaims
    function appeal(bytes32 claimId, bytes32 digest) external whenLedgerNotPaused {
        StoredClaim storage claim = _claim(claimId);
        address patient = _coverages[claim.coverage].patient;
        if (msg.sender != patient && msg.sender != claim.provider) revert NotAppellant(claimId, msg.sender);
        if (!_appealOpen(claim)) revert AppealNotOpen(claimId);
        uint40 due = _after(adjudicationSeconds);
        claim.status = ClaimStatus.Appealed;
        claim.round = 1;
        claim.due = due;
        emit ClaimAppealed(claimId, patient, msg.sender, digest, due);
    }

    /// @inheritdoc IClaims
    function withdrawClaim(bytes32 claimId) external {
        StoredClaim storage claim = _claim(claimId);
        if (claim.provider != msg.sender) revert NotClaimProvider(claimId, msg.sender);
        if (claim.status != ClaimStatus.Submitted && claim.status != ClaimStatus.Pended) {
            revert WrongStatus(claimId, claim.status);
        }
        claim.status = ClaimStatus.Withdrawn;
        claim.due = 0;
        emit ClaimWithdrawn(claimId, _coverages[claim.coverage].patient, msg.sender);
    }

    // -- settlement --------------------------------------------------------------------------------

    /// @inheritdoc IClaims
    function fund(address token, uint256 amount) external nonReentrant whenLedgerNotPaused {
        _requireInsurer(msg.sender);
        if (token == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        IERC20 erc20 = IERC20(token);
        uint256 before = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(msg.sender, address(this), amount);
        // Credit what arrived (a fee-on-transfer token delivers less than `amount`).
        uint256 received = erc20.balanceOf(address(this)) - before;
        // A token that moved nothing is refused; the comparison is of a difference this call measured.
        // slither-disable-next-line incorrect-equality
        if (received == 0) revert ZeroAmount();
        _escrow[msg.sender][token] += received;
        emit EscrowFunded(msg.sender, token, received);
    }

    /// @inheritdoc IClaims
    function withdrawEscrow(address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 available = _escrow[msg.sender][token];
        if (available < amount) revert InsufficientEscrow(msg.sender, token, amount, available);
        unchecked {
            _escrow[msg.sender][token] = available - amount;
        }
        emit EscrowWithdrawn(msg.sender, token, amount);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IClaims
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        amount = _withdrawable[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        delete _withdrawable[msg.sender][token];
        emit PaymentWithdrawn(msg.sender, token, amount);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    // -- reads -------------------------------------------------------------------------------------

    /// @inheritdoc IClaims
    function coverageOf(bytes32 coverageId) external view returns (Coverage memory) {
        return _coverages[_coverageIndex[coverageId]];
    }

    /// @inheritdoc IClaims
    function claimOf(bytes32 claimId) external view returns (Claim memory) {
        StoredClaim storage claim = _claims[claimId];
        return Claim({
            coverageId: _coverageIds[claim.coverage],
            provider: claim.provider,
            serviceDate: claim.serviceDate,
            due: claim.due,
            status: claim.status,
            round: claim.round,
            pended: claim.pended,
            billed: claim.billed,
            approved: claim.approved,
            reason: claim.reason,
            patientShare: claim.patientShare,
            paid: claim.paid
        });
    }

    /// @inheritdoc IClaims
    function isFinal(bytes32 claimId) external view returns (bool) {
        StoredClaim storage claim = _claims[claimId];
        ClaimStatus status = claim.status;
        if (status == ClaimStatus.Withdrawn) return true;
        // slither-disable-next-line timestamp
        bool pastDue = block.timestamp >= claim.due;
        if (status == ClaimStatus.Denied || status == ClaimStatus.Paid) return claim.round == 1 || pastDue;
        // An appeal the insurer let run out is deemed denied, for good.
        // (an approval it left unpaid is still owed, so not final).
        if (status == ClaimStatus.Appealed) return pastDue && claim.approved == claim.paid;
        // A claim deemed denied (left Submitted past its deadline) whose appeal window closed too.
        // slither-disable-next-line timestamp
        return status == ClaimStatus.Submitted && block.timestamp >= uint256(claim.due) + appealSeconds;
    }

    /// @inheritdoc IClaims
    function escrowOf(address insurer, address token) external view returns (uint256) {
        return _escrow[insurer][token];
    }

    /// @inheritdoc IClaims
    function withdrawable(address account, address token) external view returns (uint256) {
        return _withdrawable[account][token];
    }

    /// @inheritdoc IClaims
    function coverageIdOf(address insurer, address patient, bytes32 digest) external pure returns (bytes32) {
        return keccak256(abi.encode(insurer, patient, digest));
    }

    /// @inheritdoc IClaims
    function claimIdOf(bytes32 coverageId, address provider, bytes32 encounter) external pure returns (bytes32) {
        return keccak256(abi.encode(coverageId, provider, encounter));
    }

    // -- internals ---------------------------------------------------------------------------------

    function _coverage(bytes32 coverageId) private view returns (Coverage storage coverage, uint40 index) {
        index = _coverageIndex[coverageId];
        if (index == 0) revert UnknownCoverage(coverageId);
        coverage = _coverages[index];
    }

    function _claim(bytes32 claimId) private view returns (StoredClaim storage claim) {
        claim = _claims[claimId];
        if (claim.status == ClaimStatus.None) revert UnknownClaim(claimId);
    }

    /// @dev An active provider registered as an insurer.
    function _requireInsurer(address account) private view {
        IProviderRegistry.Provider memory entry = IProviderRegistry(ledger).providerOf(account);
        if (entry.kind != IProviderRegistry.ProviderKind.Insurer) revert NotAnInsurer(account);
        if (entry.status != IProviderRegistry.ProviderStatus.Active) revert ProviderInactive(account);
    }

    /// @dev The caller is the coverage's insurer, and active.
    function _requireClaimInsurer(bytes32 claimId, Coverage storage coverage) private view {
        if (coverage.insurer != msg.sender) revert NotClaimInsurer(claimId, msg.sender);
        if (!IProviderRegistry(ledger).isActiveProvider(msg.sender)) revert ProviderInactive(msg.sender);
    }

    /// @dev `digest` is a live (not erased) record of `patient` authored by `author`; its category.
    function _requireRecord(address patient, bytes32 digest, address author) private view returns (uint8) {
        IRecordRegistry.Record memory record = IRecordRegistry(ledger).recordOf(patient, digest);
        if (record.author != author || record.erased) revert DocumentNotRecorded(patient, digest, author);
        return record.category;
    }

    function _requireBefore(bytes32 claimId, uint40 due) private view {
        // slither-disable-next-line timestamp
        if (block.timestamp >= due) revert DeadlinePassed(claimId, due);
    }

    /// @dev Round 0 only: adjudicated and within the appeal window, or deemed denied (Submitted past
    /// its adjudication deadline) and within the appeal window that follows the deadline.
    function _appealOpen(StoredClaim storage claim) private view returns (bool) {
        if (claim.round != 0) return false;
        ClaimStatus status = claim.status;
        uint256 due = claim.due;
        // slither-disable-start timestamp
        if (status == ClaimStatus.Approved || status == ClaimStatus.Denied || status == ClaimStatus.Paid) {
            return block.timestamp < due;
        }
        return status == ClaimStatus.Submitted && block.timestamp >= due && block.timestamp < due + appealSeconds;
        // slither-disable-end timestamp
    }

    /// @dev `seconds_` from now, as a uint40 time.
    function _after(uint32 seconds_) private view returns (uint40) {
        return uint40(block.timestamp + seconds_);
    }
}
