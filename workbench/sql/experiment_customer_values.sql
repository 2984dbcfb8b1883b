-- experiment_customer_values: the distinct predicted customer values (CLV per customer from
-- clv.nc) of each arm's users, with how many users have each. Users absent from clv.nc have
-- clv NULL here; the pipeline values them by its stated rule.
--
-- Inputs: experiment_users, customer_values(customer_id, clv) registered from clv.nc.
SELECT
    u.arm,
    v.clv,
    CAST(COUNT(*) AS BIGINT) AS n_users
FROM experiment_users u
LEFT JOIN customer_values v ON v.customer_id = u.user_id
GROUP BY u.arm, v.clv
ORDER BY u.arm, v.clv
