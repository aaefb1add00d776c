// Metrics: a small Prometheus registry (counters with labels, histograms, gauges read on scrape).
//
// Every metric is created once at start-up by the composition root and handed to the code that
// updates it. Updates are lock-free; finding a labelled series takes one short mutex, so hot
// paths find it once (Counter::Cell, Histogram::SeriesFor) and keep the reference.
// Render() produces the Prometheus text exposition format (version 0.0.4).
//
//   Metrics m;
//   auto& logins = m.AddCounter("portcullis_login_attempts_total", "Logins by result", {"result"});
//   logins.Inc({"success"});
//
// Thread-safety: all methods are safe from any thread. Add* must finish before Render is called
// concurrently (they are called during start-up only).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis {

class Counter {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

  // Adds `by` to the series with these label values (one per label name, in order).
  void Inc(const std::vector<std::string>& label_values = {}, std::uint64_t by = 1) {
    if (label_names_.empty()) {
      unlabelled_.fetch_add(by, std::memory_order_relaxed);
      return;
    }
    Cell(label_values).fetch_add(by, std::memory_order_relaxed);
  }
  // Start-up only, before any concurrent use (like Metrics::Add*): creates the series of a
  // one-label counter for these values so that IncOne finds them without a lock or an allocation.
  // Hot paths register the values they count on every request ("ok", "allowed").
  void Preregister(std::initializer_list<std::string_view> values) {
    for (std::string_view value : values) {
      fast_.emplace_back(std::string(value), &Cell({std::string(value)}));
    }
  }
  // Inc for a one-label counter: a relaxed atomic add for a preregistered value, else the locked
  // lookup of Inc.
  void IncOne(std::string_view value, std::uint64_t by = 1) {
    for (const auto& [name, cell] : fast_) {
      if (name == value) {
        cell->fetch_add(by, std::memory_order_relaxed);
        return;
      }
    }
    Cell({std::string(value)}).fetch_add(by, std::memory_order_relaxed);
  }
  // The value of one labelled series, created (at 0) on first use. The reference stays valid as
  // long as the Counter: hot paths look it up once and then add to it without a lock.
  std::atomic<std::uint64_t>& Cell(const std::vector<std::string>& label_values) {
    std::lock_guard lock(mu_);
    return series_.try_emplace(label_values).first->second;
  }
  // The current value of one series; for tests and the /metrics renderer.
  std::uint64_t Value(const std::vector<std::string>& label_values = {}) const {
    if (label_names_.empty()) return unlabelled_.load(std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    auto it = series_.find(label_values);
    return it == series_.end() ? 0 : it->second.load(std::memory_order_relaxed);
  }
  void Render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::atomic<std::uint64_t> unlabelled_{0};
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::atomic<std::uint64_t>> series_;  // nodes never move
  // Preregistered one-label series; written at start-up only, then read without a lock.
  std::vector<std::pair<std::string, std::atomic<std::uint64_t>*>> fast_;
};

class Histogram {
 public:
  // One labelled series: lock-free to observe.
  class Series {
   public:
    explicit Series(const std::vector<double>& bounds)
        : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size()]) {
      for (std::size_t i = 0; i < bounds.size(); ++i) buckets_[i].store(0);
    }
    void Observe(double value) {
      for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (value <= bounds_[i]) buckets_[i].fetch_add(1, std::memory_order_relaxed);
      }
      count_.fetch_add(1, std::memory_order_relaxed);
      double sum = sum_.load(std::memory_order_relaxed);
      while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
      }
    }

   private:
    friend class Histogram;
    const std::vector<double>& bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    std::atomic<std::uint64_t> count_{0};
    std::atomic<double> sum_{0};
  };

  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  void Observe(const std::vector<std::string>& label_values, double value) {
    SeriesFor(label_values).Observe(value);
  }
  // The series with these label values, created on first use; valid as long as the Histogram.
  Series& SeriesFor(const std::vector<std::string>& label_values) {
    std::lock_guard lock(mu_);
    return series_.try_emplace(label_values, bounds_).first->second;
  }
  void Render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, Series> series_;  // nodes never move
};

class Metrics {
 public:
  Counter& AddCounter(std::string name, std::string help, std::vector<std::string> labels = {}) {
    counters_.push_back(
        std::make_unique<Counter>(std::move(name), std::move(help), std::move(labels)));
    return *counters_.back();
  }
  Histogram& AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                          std::vector<double> bounds) {
    histograms_.push_back(std::make_unique<Histogram>(std::move(name), std::move(help),
                                                      std::move(labels), std::move(bounds)));
    return *histograms_.back();
  }
  // A gauge whose value is read when rendered (e.g. the hash queue depth).
  void AddGauge(std::string name, std::string help, std::function<double()> read) {
    gauges_.push_back({std::move(name), std::move(help), std::move(read)});
  }
  std::string Render() const;

 private:
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
  };
  std::vector<std::unique_ptr<Counter>> counters_;
  std::vector<std::unique_ptr<Histogram>> histograms_;
  std::vector<Gauge> gauges_;
};

namespace metrics_internal {

inline void AppendEscapedLabel(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

inline void AppendLabels(std::string& out, const std::vector<std::string>& names,
                         const std::vector<std::string>& values, std::string_view extra_name = {},
                         std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    AppendEscapedLabel(out, i < values.size() ? values[i] : std::string_view());
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

inline std::string FormatDouble(double v) {
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s.empty() ? "0" : s;
}

}  // namespace metrics_internal

inline void Counter::Render(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " counter\n";
  if (label_names_.empty()) {
    out += name_ + " " + std::to_string(unlabelled_.load()) + "\n";
    return;
  }
  std::lock_guard lock(mu_);
  for (const auto& [values, v] : series_) {
    out += name_;
    metrics_internal::AppendLabels(out, label_names_, values);
    out += " " + std::to_string(v.load(std::memory_order_relaxed)) + "\n";
  }
}

inline void Histogram::Render(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " histogram\n";
  std::lock_guard lock(mu_);
  for (const auto& [values, s] : series_) {
    const std::uint64_t count = s.count_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      out += name_ + "_bucket";
      metrics_internal::AppendLabels(out, label_names_, values, "le",
                                     metrics_internal::FormatDouble(bounds_[i]));
      out += " " + std::to_string(s.buckets_[i].load(std::memory_order_relaxed)) + "\n";
    }
    out += name_ + "_bucket";
    metrics_internal::AppendLabels(out, label_names_, values, "le", "+Inf");
    out += " " + std::to_string(count) + "\n";
    out += name_ + "_sum";
    metrics_internal::AppendLabels(out, label_names_, values);
    out += " " + metrics_internal::FormatDouble(s.sum_.load(std::memory_order_relaxed)) + "\n";
    out += name_ + "_count";
    metrics_internal::AppendLabels(out, label_names_, values);
    out += " " + std::to_string(count) + "\n";
  }
}

inline std::string Metrics::Render() const {
  std::string out;
  for (const auto& c : counters_) c->Render(out);
  for (const auto& h : histograms_) h->Render(out);
  for (const auto& g : gauges_) {
    out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " gauge\n";
    out += g.name + " " + metrics_internal::FormatDouble(g.read()) + "\n";
  }
  return out;
}

}  // namespace portcullis
