"""Use cases: each public function here is one thing a trigger asks the app to do."""
