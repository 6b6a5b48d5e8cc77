drop table turn_steps;
