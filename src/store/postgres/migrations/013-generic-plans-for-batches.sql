-- Schema version 13. The two functions a burst calls with a thousand rows at a time plan their
-- statements once per connection, for any batch (plan_cache_mode = force_generic_plan), instead
-- of once per call for the values of that call: PL/pgSQL plans the first five calls of each
-- statement for their arguments, and planning a statement around a 1,000-element array took
-- longer than running it. A batch of 1,000 ends went from 85–90 ms to 42–45 ms, 1,000 claims from
-- 115–145 ms to 40–55 ms (decision 038). The statements look rows up by key, so no argument
-- changes the best plan. A later migration that replaces either function must set it again
-- (CREATE OR REPLACE keeps no setting it does not name; a test checks).
ALTER FUNCTION caretaker_claim_ticks(text[], text[], bigint[], bigint[], double precision[], text[], integer[], bigint[], text[], bigint)
  SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION caretaker_finish_many(text[], bigint[], text[], double precision[], double precision[], jsonb[], jsonb[], bigint[], jsonb[], boolean[], text[], double precision[], bigint)
  SET plan_cache_mode = force_generic_plan;
-- The version 11 signature, still called by replicas of that release during a rolling upgrade.
ALTER FUNCTION caretaker_finish_many(text[], bigint[], text[], double precision[], double precision[], jsonb[], jsonb[], bigint[], jsonb[], boolean[], bigint)
  SET plan_cache_mode = force_generic_plan;
