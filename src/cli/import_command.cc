// `portcullis user import FILE` (issue #6): users with their existing password hashes from another
// application. admin::ImportReader parses and validates the file as a stream; valid rows go to
// store::UserStore::ImportUsers in batches of --batch-size, each batch one transaction, so an
// interrupted import keeps every finished batch and a re-run skips the users already there.
//
// Audit: ONE "user.created" event per committed batch (actor "cli", no subject, details
// {"import": true, "count": N, "file": "<basename>"}), not one per user: 100k events for one
// migration would drown the log. Each user's first login with a bcrypt or otherwise old hash is
// audited separately ("password.rehashed").
//
// Output: the summary on stdout (text, or one JSON object with --json); rejected and skipped rows
// as "line N: reason" on stderr, or in --report FILE; on a terminal a progress bar on stderr
// (while it is shown the JSON log is limited to warnings, so its lines don't break the bar).
// Exit codes: 0 when every row was imported or already existed, 3 when rows were rejected, 1 when
// the import could not run or stopped (unreadable file, bad CSV header, database error), 2 for a
// configuration error.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/user_import.h"
#include "app/app.h"
#include "audit/audit_log.h"
#include "base/log.h"
#include "cli/commands.h"
#include "crypto/random.h"
#include "store/store.h"

namespace portcullis::cli {
namespace {

constexpr int kExitConfigError = 2;
constexpr int kExitRowsRejected = 3;
constexpr std::size_t kMaxBatchSize = 100'000;
constexpr std::chrono::milliseconds kProgressInterval{100};
constexpr std::size_t kCountBufferBytes = 1 << 20;
// A store message is shown as a reason only when it is printable ASCII of at most this length.
constexpr std::size_t kMaxStoreMessageBytes = 200;

using SteadyClock = std::chrono::steady_clock;

// Newlines in a regular file: the progress bar's estimate of the number of rows.
std::optional<std::size_t> CountLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<char> buffer(kCountBufferBytes);
  std::size_t lines = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    lines += static_cast<std::size_t>(std::count(buffer.data(), buffer.data() + got, '\n'));
  }
  return lines;
}

// The reason to report for a row the store refused with `status`. The store's messages name the
// row's problem ("unknown role: x"); one that is not plain short ASCII, or that would contain the
// hash, is replaced by its code.
std::string StoreReason(const Status& status, const store::NewUser& user) {
  const std::string& message = status.message();
  bool plain = !message.empty() && message.size() <= kMaxStoreMessageBytes;
  for (char c : message) plain = plain && c >= 0x20 && c <= 0x7e;
  if (plain && !user.password_hash.empty() &&
      message.find(user.password_hash) == std::string::npos) {
    return message;
  }
  return "rejected by the store (" + std::string(ToString(status.code())) + ")";
}

class Importer {
 public:
  Importer(const UserImportOptions& options, store::Store& store, std::ostream& report,
           bool progress, std::optional<std::size_t> total_rows, std::uint64_t total_bytes)
      : options_(options),
        store_(store),
        report_(report),
        progress_(progress),
        total_rows_(total_rows),
        total_bytes_(total_bytes),
        audit_(store, clock_),
        file_label_(options.file == "-" ? "stdin"
                                        : std::filesystem::path(options.file).filename().string()) {
    context_.actor = "cli";
  }

  // Reads every record and imports the valid rows. Returns false after a database error (the
  // batches before it stay committed).
  bool Run(admin::ImportReader& reader) {
    start_ = SteadyClock::now();
    if (options_.dry_run) {
      Result<std::vector<store::Role>> roles = store_.ListRoles();
      if (!roles.ok()) return Fail(roles.status());
      for (const store::Role& role : *roles) known_roles_.insert(role.name);
    }
    while (std::optional<admin::ImportRecord> record = reader.Next()) {
      ++rows_;
      if (auto* rejection = std::get_if<admin::ImportRejection>(&*record)) {
        Reject(rejection->line, rejection->reason);
      } else {
        Add(std::move(std::get<admin::ImportRow>(*record)));
        if (batch_.size() >= options_.batch_size && !Flush()) return false;
      }
      bytes_read_ = reader.bytes_read();
      MaybeShowProgress(false);
    }
    if (!Flush()) return false;
    if (reader.io_error()) return Fail(InternalError("reading the file failed"));
    MaybeShowProgress(true);
    return true;
  }

  // True when some imported user holds the admin role.
  bool imported_admin() const { return imported_admin_; }
  std::size_t imported() const { return imported_; }

  int PrintSummary(bool completed) const {
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
    if (options_.json) {
      boost::json::object out{{"file", file_label_},
                              {"dry_run", options_.dry_run},
                              {"completed", completed},
                              {"rows", rows_},
                              {"imported", imported_},
                              {"rejected", rejected_},
                              {"skipped_existing", skipped_},
                              {"batches", batches_},
                              {"seconds", seconds}};
      std::cout << boost::json::serialize(out) << "\n";
    } else {
      char elapsed[32];
      std::snprintf(elapsed, sizeof(elapsed), "%.1f s", seconds);
      std::cout << (options_.dry_run ? "dry run: would import " : "imported ") << imported_
                << " user(s), rejected " << rejected_ << ", skipped " << skipped_ << " existing ("
                << rows_ << " rows in " << elapsed << ")"
                << (completed ? "" : "; STOPPED before the end of the file") << "\n";
    }
    if (!completed) return 1;
    return rejected_ > 0 ? kExitRowsRejected : 0;
  }

 private:
  void Add(admin::ImportRow row) {
    store::NewUser user;
    user.id = crypto::RandomUuid(crypto::OsRandomInstance());
    user.username = std::move(row.username);
    user.email = std::move(row.email);
    user.password_hash = std::move(row.password_hash);
    user.roles = std::move(row.roles);
    user.created_at = clock_.Now();
    batch_.push_back(std::move(user));
    batch_lines_.push_back(row.line);
  }

  // Sends the batch to the store (or, for --dry-run, checks it against the store).
  bool Flush() {
    if (batch_.empty()) return true;
    std::vector<Status> verdicts;
    if (options_.dry_run) {
      verdicts = DryRunVerdicts();
    } else {
      Result<std::vector<Status>> result = store_.ImportUsers(batch_);
      if (!result.ok()) return Fail(result.status());
      verdicts = std::move(*result);
    }
    std::size_t committed = 0;
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      const Status& verdict = i < verdicts.size() ? verdicts[i] : InternalError("no verdict");
      if (verdict.ok()) {
        ++committed;
        const std::vector<std::string>& roles = batch_[i].roles;
        if (std::find(roles.begin(), roles.end(), store::kAdminRole) != roles.end()) {
          imported_admin_ = true;
        }
      } else if (verdict.code() == StatusCode::kAlreadyExists) {
        ++skipped_;
        WriteReportLine(batch_lines_[i], "skipped: a user with this username already exists");
      } else {
        Reject(batch_lines_[i], StoreReason(verdict, batch_[i]));
      }
    }
    imported_ += committed;
    ++batches_;
    if (committed > 0 && !options_.dry_run) {
      audit_.Record("user.created", context_, "",
                    {{"import", true}, {"count", committed}, {"file", file_label_}});
    }
    batch_.clear();
    batch_lines_.clear();
    return true;
  }

  // What ImportUsers would answer, without writing: existing usernames and unknown roles. (Two
  // rows of the file with the same username never get here: the reader rejects the second.)
  std::vector<Status> DryRunVerdicts() {
    std::vector<Status> out;
    for (const store::NewUser& user : batch_) {
      Result<store::User> existing = store_.FindUserByUsername(user.username);
      if (existing.ok()) {
        out.push_back(AlreadyExistsError("user already exists"));
        continue;
      }
      Status verdict = Status::Ok();
      for (const std::string& role : user.roles) {
        if (!known_roles_.contains(role)) {
          verdict = InvalidArgumentError("unknown role: " + role);
          break;
        }
      }
      out.push_back(std::move(verdict));
    }
    return out;
  }

  void Reject(std::size_t line, const std::string& reason) {
    ++rejected_;
    WriteReportLine(line, reason);
  }

  void WriteReportLine(std::size_t line, std::string_view reason) {
    if (progress_ && &report_ == &std::cerr) ClearProgress();
    report_ << "line " << line << ": " << reason << "\n";
  }

  bool Fail(const Status& status) {
    if (progress_) ClearProgress();
    std::cerr << "portcullis: import stopped: " << status.ToString() << "\n";
    return false;
  }

  void ClearProgress() {
    if (progress_shown_) std::cerr << "\r\033[K" << std::flush;
    progress_shown_ = false;
  }

  void MaybeShowProgress(bool final_line) {
    if (!progress_) return;
    const SteadyClock::time_point now = SteadyClock::now();
    if (!final_line && now - last_progress_ < kProgressInterval) return;
    last_progress_ = now;
    const double fraction =
        total_bytes_ == 0 ? 0.0
                          : static_cast<double>(bytes_read_) / static_cast<double>(total_bytes_);
    std::optional<std::size_t> total = total_rows_;
    if (total && *total < rows_) total = rows_;
    std::cerr << "\r"
              << admin::FormatImportProgress(final_line ? 1.0 : fraction, rows_, total,
                                             now - start_)
              << (final_line ? "\n" : "") << std::flush;
    progress_shown_ = !final_line;
  }

  const UserImportOptions& options_;
  store::Store& store_;
  std::ostream& report_;
  const bool progress_;
  const std::optional<std::size_t> total_rows_;
  const std::uint64_t total_bytes_;
  SystemClock clock_;
  audit::AuditLog audit_;
  audit::AuditContext context_;
  const std::string file_label_;
  std::set<std::string> known_roles_;  // --dry-run only

  std::vector<store::NewUser> batch_;
  std::vector<std::size_t> batch_lines_;
  std::size_t rows_ = 0, imported_ = 0, rejected_ = 0, skipped_ = 0, batches_ = 0;
  std::uint64_t bytes_read_ = 0;
  SteadyClock::time_point start_, last_progress_;
  bool progress_shown_ = false;
  bool imported_admin_ = false;
};

}  // namespace

int RunUserImport(const CommonOptions& options, const UserImportOptions& import) {
  std::optional<config::Config> config = LoadConfigOrReport(options);
  if (!config) return kExitConfigError;
  if (import.batch_size == 0 || import.batch_size > kMaxBatchSize) {
    std::cerr << "portcullis: --batch-size must be between 1 and " << kMaxBatchSize << "\n";
    return 1;
  }
  const bool from_stdin = import.file == "-";
  Result<admin::ImportFormat> format =
      import.format ? admin::ParseImportFormat(*import.format)
                    : (from_stdin ? Result<admin::ImportFormat>(InvalidArgumentError(
                                        "reading standard input needs --format csv|jsonl"))
                                  : admin::ImportFormatForPath(import.file));
  if (!format.ok()) {
    std::cerr << "portcullis: " << format.status().message() << "\n";
    return 1;
  }

  std::ifstream file;
  std::uint64_t total_bytes = 0;
  if (!from_stdin) {
    struct stat info {};
    if (stat(import.file.c_str(), &info) != 0) {
      std::cerr << "portcullis: cannot open " << import.file << ": " << std::strerror(errno)
                << "\n";
      return 1;
    }
    if (S_ISREG(info.st_mode)) total_bytes = static_cast<std::uint64_t>(info.st_size);
    file.open(import.file, std::ios::binary);
    if (!file) {
      std::cerr << "portcullis: cannot open " << import.file << "\n";
      return 1;
    }
  }
  std::istream& in = from_stdin ? std::cin : file;

  std::ofstream report_file;
  if (import.report) {
    report_file.open(*import.report, std::ios::trunc);
    if (!report_file) {
      std::cerr << "portcullis: cannot write the report " << *import.report << "\n";
      return 1;
    }
  }
  std::ostream& report = import.report ? static_cast<std::ostream&>(report_file) : std::cerr;

  Result<std::unique_ptr<admin::ImportReader>> reader = admin::ImportReader::Create(in, *format);
  if (!reader.ok()) {
    std::cerr << "portcullis: " << (from_stdin ? "stdin" : import.file) << ": "
              << reader.status().message() << "\n";
    return 1;
  }
  if (Status s = app::EnsureDataDir(*config); !s.ok()) {
    std::cerr << "portcullis: " << s.message() << "\n";
    return 1;
  }
  Result<std::unique_ptr<store::Store>> store = app::OpenStore(*config);
  if (!store.ok()) {
    std::cerr << "portcullis: " << store.status().message() << "\n";
    return 1;
  }

  const bool progress = isatty(STDERR_FILENO) == 1;
  std::optional<std::size_t> total_rows;
  if (progress && total_bytes > 0) {
    total_rows = CountLines(import.file);
    // The header line is no row.
    if (total_rows && *format == admin::ImportFormat::kCsv && *total_rows > 0) --*total_rows;
  }
  if (progress) {
    // Keep the per-batch audit lines (which also go to the database) from breaking the bar.
    log::Level level = log::Level::kInfo;
    log::ParseLevel(config->log.level, level);
    log::Init(std::max(level, log::Level::kWarn),
              config->log.format == "text" ? log::Format::kText : log::Format::kJson);
  }

  // `serve` creates the bootstrap administrator only on an empty database (app::BootstrapAdmin).
  Result<std::int64_t> users_before = (*store)->CountUsers();
  Importer importer(import, **store, report, progress, total_rows, total_bytes);
  const bool completed = importer.Run(**reader);
  report.flush();
  if (!import.dry_run && users_before.ok() && *users_before == 0 && importer.imported() > 0 &&
      !importer.imported_admin()) {
    std::cerr << "portcullis: note: the database had no users, so `serve` will not create the "
                 "bootstrap admin; grant an imported user the admin role (portcullis user roles "
                 "NAME admin user)\n";
  }
  return importer.PrintSummary(completed);
}

}  // namespace portcullis::cli
