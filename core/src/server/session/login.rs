//! Login (RFC 959 §4.1.1 USER/PASS): the host's verdict, failed-login
//! delays and the read-only refusal.

use super::*;

impl State {
    pub(super) fn on_login(&mut self, id: u32, outcome: LoginOutcome) {
        if !matches!(self.waiting, Waiting::Login(w) if w == id) {
            return self.stale("login");
        }
        self.password.fill(0);
        self.password.clear();
        match outcome {
            LoginOutcome::Accepted { read_only } => {
                self.waiting = Waiting::Nothing;
                self.login = LoginState::LoggedIn { read_only };
                self.cwd.clear();
                self.cwd.push(b'/');
                self.notice(QueuedNotice::LoginSucceeded);
                self.reply(230, "Login successful.");
            }
            LoginOutcome::Rejected => {
                self.failures = self.failures.saturating_add(1);
                self.login = LoginState::Connected;
                self.notice(QueuedNotice::LoginFailed);
                // The 530 waits: guessing passwords gets slow.
                self.waiting = Waiting::LoginDelay(self.now + self.config.failed_login_delay);
                if self.config.failed_login_delay.is_zero() {
                    self.on_timeout();
                }
            }
        }
    }

    /// 550 for a write on a read-only login, with a notice so the refusal
    /// reaches the operator's log.
    pub(super) fn refuse_read_only(&mut self, command: &'static str) {
        self.notice(QueuedNotice::ReadOnlyRefused(command));
        self.reply(550, "Permission denied: this login is read-only.");
    }
}
